// Scheduler + KvCache + FakeRunner, driven like the engine loop but without it: budgets,
// chunking, decode-first order, window page release, sharing maps, preemption and
// cancellation, with the pool's integrity checked after every step.
#include "engine/scheduler.h"

#include <gtest/gtest.h>

#include <memory>
#include <random>

#include "engine/fake_runner.h"

namespace parley {
namespace {

using testing::FakeRunner;

struct Harness {
  Harness(std::vector<int32_t> windows, std::vector<int32_t> owners, int64_t arena_bytes,
          SchedulerOptions opts, int32_t page_size = 4, int32_t max_context = 256)
      : runner(windows, owners, 61) {
    auto layout = KvLayout::Make(runner.LayerWindows(), runner.KvOwners(), runner.kv_dim(), runner.head_dim());
    EXPECT_TRUE(layout.ok()) << layout.status().message();
    KvCacheOptions kv;
    kv.arena_bytes = arena_bytes;
    kv.page_size = page_size;
    kv.max_context = max_context;
    auto c = KvCache::Create(*layout, kv);
    EXPECT_TRUE(c.ok()) << c.status().message();
    cache = std::move(c).value();
    scheduler = std::make_unique<Scheduler>(cache.get(), opts);
    options = opts;
  }

  Sequence* Add(std::vector<int32_t> prompt, int32_t max_new) {
    auto s = std::make_unique<Sequence>();
    s->id = static_cast<int64_t>(seqs.size());
    s->tokens = std::move(prompt);
    s->num_prompt = s->num_tokens();
    seqs.push_back(std::move(s));
    max_new_.push_back(max_new);
    scheduler->Add(seqs.back().get());
    return seqs.back().get();
  }

  // One engine step; returns the scheduler output. Fails the test on runner errors.
  SchedulerOutput Step() {
    SchedulerOutput out = scheduler->Schedule();
    EXPECT_LE(out.num_tokens, options.max_batch_tokens);
    std::vector<ForwardSeq> batch;
    for (const ScheduledSeq& x : out.scheduled) {
      batch.push_back(scheduler->ToForward(x));
    }
    if (!batch.empty()) {
      std::vector<float> logits;
      Status st = runner.Forward(batch, cache.get(), &logits);
      EXPECT_TRUE(st.ok()) << st.message();
      scheduler->Update(out);
      size_t row = 0;
      for (size_t i = 0; i < batch.size(); ++i) {
        if (batch[i].num_logit_rows() == 0) continue;
        Sequence* s = out.scheduled[i].seq;
        const float* r = logits.data() + row * runner.vocab_size();
        ++row;
        const int32_t next = static_cast<int32_t>(std::max_element(r, r + runner.vocab_size()) - r);
        if (s->num_tokens() - s->num_prompt + 1 >= max_new_[s->id]) {
          s->tokens.push_back(next);
          s->num_computed = std::min(s->num_computed, s->num_tokens());
          scheduler->Finish(s);
        } else {
          s->tokens.push_back(next);
        }
      }
    }
    Status integrity = scheduler->CheckIntegrity();
    EXPECT_TRUE(integrity.ok()) << integrity.message();
    return out;
  }

  // Runs until every sequence finished; returns the number of steps (bounded).
  int RunAll(int max_steps = 100000) {
    int steps = 0;
    while (scheduler->num_running() + scheduler->num_waiting() > 0) {
      Step();
      if (++steps >= max_steps) {
        ADD_FAILURE() << "no progress after " << max_steps << " steps";
        break;
      }
    }
    return steps;
  }

  // What the sequence would be if generated alone by the fake model.
  std::vector<int32_t> Reference(std::vector<int32_t> prompt, int32_t max_new) const {
    for (int32_t i = 0; i < max_new; ++i) prompt.push_back(runner.ReferenceNext(prompt));
    return prompt;
  }

  // Replaces the scheduler with one that uses a prefix cache. Call before adding sequences.
  void EnablePrefixCache(const PrefixCacheOptions& o = {}) {
    scheduler.reset();
    prefix = std::make_unique<PrefixCache>(cache.get(), o);
    scheduler = std::make_unique<Scheduler>(cache.get(), options, prefix.get());
  }

  FakeRunner runner;
  std::unique_ptr<KvCache> cache;
  std::unique_ptr<PrefixCache> prefix;  // destroyed after the scheduler, before the cache
  std::unique_ptr<Scheduler> scheduler;
  SchedulerOptions options;
  std::vector<std::unique_ptr<Sequence>> seqs;
  std::vector<int32_t> max_new_;
};

std::vector<int32_t> RandomPrompt(std::mt19937* rng, int32_t n) {
  std::vector<int32_t> p(n);
  for (int32_t& t : p) t = 3 + static_cast<int32_t>((*rng)() % 58);
  return p;
}

TEST(SchedulerTest, ChunksPrefillWithinTheBudget) {
  Harness h({0, 0}, {}, 1 << 20, SchedulerOptions{64, 4});
  std::mt19937 rng(1);
  h.Add(RandomPrompt(&rng, 100), 3);
  h.Add(RandomPrompt(&rng, 100), 3);
  SchedulerOutput s1 = h.Step();
  ASSERT_EQ(s1.scheduled.size(), 1u);  // the first prompt takes the whole budget
  EXPECT_EQ(s1.scheduled[0].num_new, 64);
  SchedulerOutput s2 = h.Step();
  ASSERT_EQ(s2.scheduled.size(), 2u);  // its last 36 tokens, then 28 of the second
  EXPECT_EQ(s2.scheduled[0].num_new, 36);
  EXPECT_EQ(s2.scheduled[1].num_new, 28);
  SchedulerOutput s3 = h.Step();
  ASSERT_EQ(s3.scheduled.size(), 2u);  // the first decodes (first in the batch), the second goes on
  EXPECT_EQ(s3.scheduled[0].seq->id, 0);
  EXPECT_EQ(s3.scheduled[0].num_new, 1);
  EXPECT_EQ(s3.scheduled[1].num_new, 63);
  h.RunAll();
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(h.seqs[i]->tokens, h.Reference({h.seqs[i]->tokens.begin(), h.seqs[i]->tokens.begin() + 100}, 3));
  }
}

TEST(SchedulerTest, RespectsMaxSeqs) {
  Harness h({0}, {}, 1 << 20, SchedulerOptions{512, 2});
  std::mt19937 rng(2);
  for (int i = 0; i < 5; ++i) h.Add(RandomPrompt(&rng, 10), 4);
  SchedulerOutput s = h.Step();
  EXPECT_EQ(s.scheduled.size(), 2u);
  EXPECT_EQ(h.scheduler->num_running(), 2);
  EXPECT_EQ(h.scheduler->num_waiting(), 3);
  h.RunAll();
}

TEST(SchedulerTest, ForkSeatsAreHeldFromAdmissionAndForksRunAtOnce) {
  Harness h({4, 0}, {}, 1 << 20, SchedulerOptions{512, 4});
  std::mt19937 rng(4);
  const std::vector<int32_t> prompt = RandomPrompt(&rng, 10);
  Sequence* parent = h.Add(prompt, 6);
  parent->fork_seats = 2;  // three choices
  Sequence* other = h.Add(RandomPrompt(&rng, 5), 6);
  Sequence* third = h.Add(RandomPrompt(&rng, 5), 6);
  SchedulerOutput s = h.Step();  // the prompt, plus one other: 1 + 2 + 1 seats
  ASSERT_EQ(s.scheduled.size(), 2u);
  EXPECT_EQ(h.scheduler->num_seats_taken(), 4);
  EXPECT_EQ(third->state, SeqState::kWaiting);
  ASSERT_EQ(parent->num_computed, 10);
  // Two children continue the prompt (tokens: the prompt, then their own first token).
  std::vector<std::unique_ptr<Sequence>> children;
  for (int32_t j = 0; j < 3; ++j) {
    children.push_back(std::make_unique<Sequence>());
    Sequence* c = children.back().get();
    c->id = static_cast<int64_t>(h.max_new_.size());  // Step() looks its max_new up by id
    h.max_new_.push_back(6);
    c->tokens = prompt;
    c->tokens.push_back(3 + j);
    c->num_prompt = 10;
  }
  ASSERT_TRUE(h.scheduler->Fork(parent, children[0].get()));
  ASSERT_TRUE(h.scheduler->Fork(parent, children[1].get()));
  EXPECT_FALSE(h.scheduler->Fork(parent, children[2].get()));  // no seat left
  EXPECT_EQ(children[2]->state, SeqState::kWaiting);
  EXPECT_EQ(children[0]->num_computed, 10);
  EXPECT_EQ(children[0]->state, SeqState::kRunning);
  EXPECT_EQ(h.scheduler->num_running(), 4);
  EXPECT_TRUE(h.scheduler->CheckIntegrity().ok());
  // Page 2 (positions 8, 9) is each child's own; pages 0 and 1 are shared.
  for (int32_t g = 0; g < h.cache->num_groups(); ++g) {
    const auto& c0 = h.scheduler->BlockTable(*children[0]).pages[g];
    const auto& c1 = h.scheduler->BlockTable(*children[1]).pages[g];
    const auto& p = h.scheduler->BlockTable(*parent).pages[g];
    EXPECT_EQ(c0[1], p[1]);
    EXPECT_NE(c0[2], p[2]);
    EXPECT_NE(c1[2], c0[2]);
  }
  // The children decode with the rest (each computes its own token 10 next).
  SchedulerOutput d = h.Step();
  int32_t child_tokens = 0;
  for (const ScheduledSeq& x : d.scheduled) {
    if (x.seq == children[0].get() || x.seq == children[1].get()) child_tokens += x.num_new;
  }
  EXPECT_EQ(child_tokens, 2);
  h.scheduler->Finish(children[0].get());
  h.scheduler->Finish(children[1].get());
  h.RunAll();
  EXPECT_EQ(other->state, SeqState::kFinished);
  EXPECT_EQ(third->state, SeqState::kFinished);
  EXPECT_EQ(h.cache->pool(0).num_used() + h.cache->pool(1).num_used(), 0);
}

// Many sequences of random lengths, windows + global layers, a batch budget that forces
// chunking: every sequence ends exactly as if it had run alone.
TEST(SchedulerTest, BatchedEqualsAloneWithWindows) {
  for (int32_t page_size : {1, 4, 16}) {
    Harness h({8, 8, 0}, {}, 4 << 20, SchedulerOptions{40, 6}, page_size);
    std::mt19937 rng(3 + page_size);
    std::vector<std::vector<int32_t>> prompts;
    for (int i = 0; i < 12; ++i) {
      prompts.push_back(RandomPrompt(&rng, 1 + static_cast<int32_t>(rng() % 70)));
      h.Add(prompts.back(), 1 + static_cast<int32_t>(rng() % 20));
    }
    h.RunAll();
    for (int i = 0; i < 12; ++i) {
      EXPECT_EQ(h.seqs[i]->tokens, h.Reference(prompts[i], h.max_new_[i])) << "page size " << page_size;
    }
    for (int g = 0; g < h.cache->num_groups(); ++g) EXPECT_EQ(h.cache->pool(g).num_used(), 0);
  }
}

TEST(SchedulerTest, WindowGroupsReleasePagesAsTheSequenceGrows) {
  // Layer 0: window 8, layer 1: global; pages of 4 positions.
  Harness h({8, 0}, {}, 1 << 20, SchedulerOptions{16, 1}, 4, 512);
  std::mt19937 rng(4);
  h.Add(RandomPrompt(&rng, 5), 300);
  int max_window_pages = 0;
  while (h.scheduler->num_running() + h.scheduler->num_waiting() > 0) {
    h.Step();
    max_window_pages = std::max(max_window_pages, h.cache->pool(0).num_used());
  }
  EXPECT_LE(max_window_pages, 8 / 4 + 2);
  EXPECT_EQ(h.seqs[0]->tokens, h.Reference({h.seqs[0]->tokens.begin(), h.seqs[0]->tokens.begin() + 5}, 300));
}

TEST(SchedulerTest, SharingLayersAllocateNoPages) {
  // Layers 1 and 3 read the K/V of layers 0 and 2.
  Harness shared({0, 0, 4, 4}, {0, 0, 2, 2}, 1 << 20, SchedulerOptions{32, 4});
  Harness plain({0, 0, 4, 4}, {}, 1 << 20, SchedulerOptions{32, 4});
  ASSERT_EQ(shared.cache->num_groups(), 2);
  EXPECT_EQ(shared.cache->layout().groups()[0].owner_layers, std::vector<int32_t>{0});
  EXPECT_EQ(shared.cache->layout().groups()[1].owner_layers, std::vector<int32_t>{2});
  EXPECT_EQ(plain.cache->layout().groups()[0].owner_layers, (std::vector<int32_t>{0, 1}));
  // Half the bytes per page: each page holds one layer instead of two.
  EXPECT_EQ(shared.cache->pool(0).shape().page_bytes() * 2, plain.cache->pool(0).shape().page_bytes());
  std::mt19937 rng(5);
  auto prompt = RandomPrompt(&rng, 30);
  shared.Add(prompt, 10);
  shared.RunAll();
  EXPECT_EQ(shared.seqs[0]->tokens, shared.Reference(prompt, 10));
}

// A pool far too small for all sequences at once: the newest are preempted and
// recomputed, nothing deadlocks, and every result equals the sequence run alone.
TEST(SchedulerTest, PreemptsAndRecomputesWhenThePoolRunsOut) {
  // Global layer only, pages of 4: room for ~3 sequences of 100 tokens.
  const int32_t page_bytes = 4 * 2 * 2 * 4;  // page_size * (K,V) * kv_dim * f32
  Harness h({0}, {}, page_bytes * 80, SchedulerOptions{64, 8}, 4, 128);
  std::mt19937 rng(6);
  std::vector<std::vector<int32_t>> prompts;
  for (int i = 0; i < 8; ++i) {
    prompts.push_back(RandomPrompt(&rng, 40 + static_cast<int32_t>(rng() % 20)));
    h.Add(prompts.back(), 40);
  }
  h.RunAll(5000);
  EXPECT_GT(h.scheduler->num_preemptions(), 0);
  for (int i = 0; i < 8; ++i) EXPECT_EQ(h.seqs[i]->tokens, h.Reference(prompts[i], 40)) << i;
  EXPECT_EQ(h.cache->pool(0).num_used(), 0);
}

TEST(SchedulerTest, FinishingMidPrefillFreesPages) {
  Harness h({4, 0}, {}, 1 << 20, SchedulerOptions{16, 4});
  std::mt19937 rng(7);
  Sequence* a = h.Add(RandomPrompt(&rng, 50), 5);
  Sequence* b = h.Add(RandomPrompt(&rng, 50), 5);
  h.Step();
  h.Step();
  EXPECT_GT(h.cache->pool(1).num_used(), 0);
  h.scheduler->Finish(a);  // cancelled while running
  h.scheduler->Finish(b);  // cancelled while waiting or running
  EXPECT_EQ(h.scheduler->num_running() + h.scheduler->num_waiting(), 0);
  EXPECT_TRUE(h.scheduler->CheckIntegrity().ok());
  for (int g = 0; g < h.cache->num_groups(); ++g) EXPECT_EQ(h.cache->pool(g).num_used(), 0);
}

}  // namespace
}  // namespace parley

namespace parley {
namespace {

std::vector<int32_t> Concat(std::vector<int32_t> a, const std::vector<int32_t>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

TEST(SchedulerPrefixCacheTest, AdmitsTheLongestCachedPrefixFirstWithinTheFairnessBound) {
  for (int32_t max_wait : {32, 0}) {
    SchedulerOptions o{512, 1};
    o.max_wait_steps = max_wait;
    Harness h({8, 0}, {}, 1 << 20, o);
    h.EnablePrefixCache();
    std::mt19937 rng(11);
    std::vector<int32_t> a = RandomPrompt(&rng, 40);
    h.Add(a, 2);
    h.RunAll();
    Sequence* fresh = h.Add(RandomPrompt(&rng, 40), 2);
    Sequence* next_turn = h.Add(Concat(h.seqs[0]->tokens, RandomPrompt(&rng, 4)), 2);
    SchedulerOutput out = h.Step();
    ASSERT_EQ(out.scheduled.size(), 1u);
    if (max_wait > 0) {
      EXPECT_EQ(out.scheduled[0].seq, next_turn) << "the cached conversation goes first";
      EXPECT_GE(next_turn->num_cached, 40);
    } else {
      EXPECT_EQ(out.scheduled[0].seq, fresh) << "no waiting allowed: first come, first served";
    }
    h.RunAll();
    EXPECT_EQ(next_turn->tokens, h.Reference({next_turn->tokens.begin(), next_turn->tokens.begin() + next_turn->num_prompt}, 2));
  }
}

// Conversations of several turns through a pool too small for them all, with and without a
// host tier: everything finishes (no deadlock), every token is what the sequence alone
// would produce, pinned pages are never evicted (CheckIntegrity after every step), and the
// later turns are served from the cache.
TEST(SchedulerPrefixCacheTest, ConversationsUnderPoolPressureStayCorrect) {
  for (int64_t host : {int64_t{0}, int64_t{1} << 22}) {
    Harness h({8, 0}, {}, 1 << 20, SchedulerOptions{64, 6}, 4, 128);
    // A pool with room for about three of the longest sequences.
    KvCacheOptions kv;
    kv.page_size = 4;
    kv.max_context = 128;
    kv.window_keep = 16;
    auto layout =
        KvLayout::Make(h.runner.LayerWindows(), h.runner.KvOwners(), h.runner.kv_dim(), h.runner.head_dim());
    kv.arena_bytes = KvCache::ArenaBytesFor(*layout, kv, 3);
    h.scheduler.reset();
    h.cache = std::move(KvCache::Create(*layout, kv).value());
    PrefixCacheOptions po;
    po.host_bytes = host;
    h.EnablePrefixCache(po);
    std::mt19937 rng(12);
    std::vector<std::vector<int32_t>> history(8);
    for (auto& hist : history) hist = RandomPrompt(&rng, 20);
    int64_t cached = 0;
    for (int turn = 0; turn < 4; ++turn) {
      std::vector<Sequence*> seqs;
      for (auto& hist : history) seqs.push_back(h.Add(Concat(hist, RandomPrompt(&rng, 5)), 6));
      h.RunAll(20000);
      for (size_t c = 0; c < history.size(); ++c) {
        Sequence* s = seqs[c];
        ASSERT_EQ(s->tokens, h.Reference({s->tokens.begin(), s->tokens.begin() + s->num_prompt}, 6));
        if (turn > 0) cached += s->num_cached;
        history[c] = s->tokens;
      }
    }
    EXPECT_GT(cached, 0);
    EXPECT_GT(h.prefix->stats().evicted_pages, 0) << "the pool was meant to be too small";
    if (host > 0) {
      EXPECT_GT(h.prefix->stats().restored_pages, 0);
    }
  }
}

}  // namespace
}  // namespace parley
