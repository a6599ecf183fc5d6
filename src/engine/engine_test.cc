// The engine loop with a fake model runner (no model): streams, stop conditions, errors,
// cancellation, queue limits and shutdown.
#include "engine/engine.h"

#include <gtest/gtest.h>

#include <set>
#include <thread>

#include "engine/fake_runner.h"
#include "engine/output_processor.h"
#include "engine/small_tokenizer.h"

namespace parley {
namespace {

using testing::FakeRunner;
using namespace std::chrono_literals;

using testing::SmallTokenizer;

// How long a test waits for the engine's next event: a bound that turns a hang into a
// failure, not a speed check. Sanitizer builds on a busy 2-core CI machine take seconds per
// step (--check-integrity under ASan: ~5 s of CPU for a 40-token prompt).
constexpr auto kEventTimeout = 60s;

struct Collected {
  std::vector<int32_t> tokens;
  std::vector<TokenLogprob> logprobs;
  std::string text;
  EngineEvent last;
};

Collected Drain(RequestStream* stream) {
  Collected c;
  for (int i = 0; i < 10000; ++i) {
    auto ev = stream->Next(kEventTimeout);
    if (!ev) {
      ADD_FAILURE() << "no event within " << kEventTimeout.count() << " s";
      break;
    }
    c.tokens.insert(c.tokens.end(), ev->tokens.begin(), ev->tokens.end());
    c.logprobs.insert(c.logprobs.end(), ev->logprobs.begin(), ev->logprobs.end());
    c.text += ev->text;
    if (ev->finish != FinishReason::kNone) {
      c.last = std::move(*ev);
      break;
    }
  }
  return c;
}

class EngineTest : public ::testing::Test {
 protected:
  void Start(EngineOptions opts, std::vector<int32_t> windows = {4, 0}) {
    runner_ = std::make_unique<FakeRunner>(windows, std::vector<int32_t>{}, 64);
    tokenizer_ = SmallTokenizer();
    opts.kv.page_size = 4;
    auto e = Engine::Create(runner_.get(), *tokenizer_, opts);
    ASSERT_TRUE(e.ok()) << e.status().message();
    engine_ = std::move(e).value();
  }
  GenerationRequest Request(std::vector<int32_t> prompt, int32_t max_tokens) {
    GenerationRequest r;
    r.prompt = std::move(prompt);
    r.max_tokens = max_tokens;
    r.ignore_eos = true;
    return r;
  }
  std::vector<int32_t> Reference(std::vector<int32_t> tokens, int32_t n) {
    std::vector<int32_t> out;
    for (int i = 0; i < n; ++i) {
      out.push_back(runner_->ReferenceNext(tokens));
      tokens.push_back(out.back());
    }
    return out;
  }
  std::unique_ptr<FakeRunner> runner_;
  std::unique_ptr<Tokenizer> tokenizer_;
  std::unique_ptr<Engine> engine_;
};

TEST_F(EngineTest, ConcurrentRequestsMatchTheirReference) {
  EngineOptions opts;
  opts.max_batch_tokens = 16;
  opts.max_seqs = 3;
  Start(opts);
  std::vector<std::shared_ptr<RequestStream>> streams;
  std::vector<std::vector<int32_t>> prompts;
  for (int i = 0; i < 6; ++i) {
    prompts.push_back({});
    for (int j = 0; j < 5 + 7 * i; ++j) prompts.back().push_back(3 + (i * 13 + j * 7) % 61);
    auto s = engine_->Submit(Request(prompts.back(), 12));
    ASSERT_TRUE(s.ok()) << s.status().message();
    streams.push_back(*s);
  }
  for (int i = 0; i < 6; ++i) {
    Collected c = Drain(streams[i].get());
    EXPECT_EQ(c.tokens, Reference(prompts[i], 12)) << i;
    EXPECT_EQ(c.last.finish, FinishReason::kLength);
    EXPECT_EQ(c.last.usage.prompt_tokens, static_cast<int32_t>(prompts[i].size()));
    EXPECT_EQ(c.last.usage.completion_tokens, 12);
    EXPECT_EQ(c.text, tokenizer_->Decode(c.tokens));
  }
  EXPECT_EQ(engine_->Stats().finished.at(FinishReason::kLength), 6);
}

TEST_F(EngineTest, StopStringsAndStopTokens) {
  Start(EngineOptions{});
  std::vector<int32_t> prompt = {5, 6, 7, 8};
  const std::vector<int32_t> ref = Reference(prompt, 20);
  const std::string full = tokenizer_->Decode(ref);
  // A stop string made of generated tokens 5..6: the output ends right before it.
  const std::string stop = full.substr(5, 2);
  GenerationRequest r = Request(prompt, 20);
  r.stop = {stop};
  auto s = engine_->Submit(r);
  ASSERT_TRUE(s.ok());
  Collected c = Drain(s->get());
  EXPECT_EQ(c.last.finish, FinishReason::kStop);
  EXPECT_EQ(c.text, full.substr(0, full.find(stop)));
  // A stop token id: generation ends at its first occurrence.
  GenerationRequest r2 = Request(prompt, 20);
  r2.stop_token_ids = {ref[3]};
  auto s2 = engine_->Submit(r2);
  ASSERT_TRUE(s2.ok());
  Collected c2 = Drain(s2->get());
  EXPECT_EQ(c2.last.finish, FinishReason::kStop);
  const size_t first = std::find(ref.begin(), ref.end(), ref[3]) - ref.begin();
  EXPECT_EQ(c2.tokens, std::vector<int32_t>(ref.begin(), ref.begin() + first + 1));
}

TEST_F(EngineTest, PromptLogprobsWithZeroMaxTokens) {
  Start(EngineOptions{});
  GenerationRequest r = Request({5, 6, 7, 8, 9, 10}, 0);
  r.prompt_logprobs = true;
  r.logprobs = 2;
  auto s = engine_->Submit(r);
  ASSERT_TRUE(s.ok());
  Collected c = Drain(s->get());
  EXPECT_EQ(c.last.finish, FinishReason::kLength);
  EXPECT_TRUE(c.tokens.empty());
  ASSERT_EQ(c.last.prompt_logprobs.size(), 5u);  // tokens 1..5 of the prompt
  for (size_t i = 0; i < 5; ++i) {
    EXPECT_EQ(c.last.prompt_logprobs[i].token, r.prompt[i + 1]);
    EXPECT_EQ(c.last.prompt_logprobs[i].top.size(), 2u);
    // The fake model's predicted token is the top-1.
    std::vector<int32_t> ctx(r.prompt.begin(), r.prompt.begin() + i + 1);
    EXPECT_EQ(c.last.prompt_logprobs[i].top[0].first, runner_->ReferenceNext(ctx));
  }
}

// score_prompt_from (parley perplexity): one double per prompt token from the index on,
// from the fake model's one-hot rows, with the prompt in the engine's own chunks (not the
// 32-token chunks of prompt_logprobs); bad values and combinations are refused.
TEST_F(EngineTest, PromptScoresFromAnIndexInWholeChunks) {
  EngineOptions opts;
  opts.max_batch_tokens = 64;
  opts.prefix_cache = false;
  Start(opts);
  std::vector<int32_t> prompt;
  for (int32_t i = 0; i < 80; ++i) prompt.push_back(3 + (i * 7) % 61);
  GenerationRequest r = Request(prompt, 0);
  r.score_prompt_from = 41;
  auto s = engine_->Submit(r);
  ASSERT_TRUE(s.ok()) << s.status().message();
  Collected c = Drain(s->get());
  EXPECT_EQ(c.last.finish, FinishReason::kLength);
  EXPECT_TRUE(c.tokens.empty());
  EXPECT_TRUE(c.last.prompt_logprobs.empty());
  ASSERT_EQ(c.last.prompt_scores.size(), 39u);  // tokens 41..79
  for (size_t i = 0; i < c.last.prompt_scores.size(); ++i) {
    const int32_t pos = 40 + static_cast<int32_t>(i);  // the row that predicts token pos + 1
    std::vector<float> row(64, 0.0f);
    row[runner_->ReferenceNext(std::vector<int32_t>(prompt.begin(), prompt.begin() + pos + 1))] = 1.0f;
    EXPECT_EQ(c.last.prompt_scores[i], PromptTokenScore(row, prompt[pos + 1])) << "token " << pos + 1;
  }
  EXPECT_EQ(engine_->Stats().forward_passes, 2);  // 64 + 16 tokens

  r.score_prompt_from = 0;  // off: nothing scored
  s = engine_->Submit(r);
  ASSERT_TRUE(s.ok());
  EXPECT_TRUE(Drain(s->get()).last.prompt_scores.empty());

  for (int32_t from : {-1, 80, 81}) {
    r.score_prompt_from = from;
    EXPECT_EQ(engine_->Submit(r).status().code(), StatusCode::kInvalidArgument) << from;
  }
  r.score_prompt_from = 79;
  EXPECT_TRUE(engine_->Submit(r).ok());
  r.prompt_logprobs = true;
  EXPECT_EQ(engine_->Submit(r).status().code(), StatusCode::kInvalidArgument);
  r.prompt_logprobs = false;
  r.n = 2;
  EXPECT_EQ(engine_->SubmitChoices(r).status().code(), StatusCode::kInvalidArgument);

  engine_.reset();
  Start(EngineOptions{});  // the prefix cache on: it would supply rows never computed
  r.n = 1;
  EXPECT_EQ(engine_->Submit(r).status().code(), StatusCode::kInvalidArgument);
}

TEST_F(EngineTest, InvalidRequestsAreRejected) {
  EngineOptions opts;
  opts.max_context = 64;
  Start(opts);
  EXPECT_EQ(engine_->Submit(Request({}, 4)).status().code(), StatusCode::kInvalidArgument);
  // A prompt longer than the context has a kind of its own (the server's
  // context_length_exceeded).
  EXPECT_EQ(engine_->Submit(Request(std::vector<int32_t>(64, 5), 4)).status().code(),
            StatusCode::kOutOfRange);
  auto fits = engine_->Submit(Request(std::vector<int32_t>(63, 5), 1));
  ASSERT_TRUE(fits.ok());
  Drain(fits->get());
  EXPECT_EQ(engine_->Submit(Request({5, 99}, 4)).status().code(), StatusCode::kInvalidArgument);
  GenerationRequest biased = Request({5}, 4);
  biased.sampling.logit_bias = {{99, 1.0f}};  // outside the fake model's vocabulary
  EXPECT_EQ(engine_->Submit(biased).status().code(), StatusCode::kInvalidArgument);
  biased.sampling.logit_bias = {{3, 101.0f}};
  EXPECT_EQ(engine_->Submit(biased).status().code(), StatusCode::kInvalidArgument);
  GenerationRequest bad = Request({5}, 4);
  bad.sampling.top_p = 0;
  EXPECT_EQ(engine_->Submit(bad).status().code(), StatusCode::kInvalidArgument);
  // max_tokens beyond the context is clipped: prompt 60 + 4 = 64.
  auto s = engine_->Submit(Request(std::vector<int32_t>(60, 5), 100));
  ASSERT_TRUE(s.ok());
  Collected c = Drain(s->get());
  EXPECT_EQ(c.last.finish, FinishReason::kLength);
  EXPECT_EQ(c.tokens.size(), 4u);
}

TEST_F(EngineTest, RunnerErrorsEndOnlyThatStep) {
  Start(EngineOptions{});
  runner_->fail_next = 1;
  auto bad = engine_->Submit(Request({5, 6}, 4));
  ASSERT_TRUE(bad.ok());
  Collected c = Drain(bad->get());
  EXPECT_EQ(c.last.finish, FinishReason::kError);
  EXPECT_EQ(c.last.error, "injected failure");
  auto good = engine_->Submit(Request({5, 6}, 4));
  ASSERT_TRUE(good.ok());
  EXPECT_EQ(Drain(good->get()).tokens, Reference({5, 6}, 4));
}

// Waits (bounded) until nothing runs and the only pages in use are the prefix cache's:
// some when `expect_cached`, none otherwise. Up to 30 s, for sanitizer builds on a busy machine.
bool WaitForPages(Engine* engine, bool expect_cached) {
  for (int i = 0; i < 3000; ++i) {
    EngineStats st = engine->Stats();
    int used = 0, cached = 0;
    for (const auto& g : st.kv_groups) {
      used += g.pages_used;
      cached += g.pages_cached;
    }
    if (st.running == 0 && used == cached && (cached > 0) == expect_cached) return true;
    std::this_thread::sleep_for(10ms);
  }
  return false;
}

TEST_F(EngineTest, CancellationFreesPages) {
  EngineOptions opts;
  opts.max_batch_tokens = 8;
  Start(opts);
  auto s = engine_->Submit(Request(std::vector<int32_t>(40, 7), 100000));
  ASSERT_TRUE(s.ok());
  ASSERT_TRUE((*s)->Next(kEventTimeout).has_value());  // it is generating
  (*s)->Cancel();
  Collected c = Drain(s->get());
  EXPECT_EQ(c.last.finish, FinishReason::kCancelled);
  // Pages come back (the stats are published after each loop iteration); what stays in use
  // is what the prefix cache keeps of the sequence.
  EXPECT_TRUE(WaitForPages(engine_.get(), /*expect_cached=*/true)) << "pages were not freed";
}

TEST_F(EngineTest, CancellationFreesEveryPageWithoutThePrefixCache) {
  EngineOptions opts;
  opts.max_batch_tokens = 8;
  opts.prefix_cache = false;
  Start(opts);
  auto s = engine_->Submit(Request(std::vector<int32_t>(40, 7), 100000));
  ASSERT_TRUE(s.ok());
  ASSERT_TRUE((*s)->Next(kEventTimeout).has_value());
  (*s)->Cancel();
  Drain(s->get());
  EXPECT_TRUE(WaitForPages(engine_.get(), /*expect_cached=*/false)) << "pages were not freed";
}

// --check-integrity (the soak's): a check after every step, after cancelled requests are
// reaped and at shutdown, each counted in the statistics.
TEST_F(EngineTest, IntegrityChecksRunAfterStepsCancellationsAndShutdown) {
  EngineOptions opts;
  opts.max_batch_tokens = 8;
  opts.check_integrity = true;
  Start(opts);
  EXPECT_TRUE(engine_->Stats().checks_integrity);
  auto done = engine_->Submit(Request({3, 1, 4, 1, 5, 9, 2, 6, 5}, 6));
  ASSERT_TRUE(done.ok());
  EXPECT_EQ(Drain(done->get()).last.finish, FinishReason::kLength);
  ASSERT_TRUE(WaitForPages(engine_.get(), /*expect_cached=*/true));
  EngineStats st = engine_->Stats();
  EXPECT_GE(st.integrity_checks, st.forward_passes) << "one check per step at least";

  auto s = engine_->Submit(Request(std::vector<int32_t>(40, 7), 100000));
  ASSERT_TRUE(s.ok());
  ASSERT_TRUE((*s)->Next(kEventTimeout).has_value());
  (*s)->Cancel();
  EXPECT_EQ(Drain(s->get()).last.finish, FinishReason::kCancelled);
  ASSERT_TRUE(WaitForPages(engine_.get(), /*expect_cached=*/true));
  st = engine_->Stats();
  EXPECT_GT(st.integrity_checks, st.forward_passes) << "the reap of the cancelled request was not checked";

  engine_->Shutdown();
  EXPECT_EQ(engine_->Stats().integrity_checks, st.integrity_checks + 1) << "no check at shutdown";
}

TEST_F(EngineTest, IntegrityChecksAreOffByDefault) {
  Start(EngineOptions{});
  auto s = engine_->Submit(Request({3, 1, 4}, 2));
  ASSERT_TRUE(s.ok());
  Drain(s->get());
  engine_->Shutdown();
  EXPECT_FALSE(engine_->Stats().checks_integrity);
  EXPECT_EQ(engine_->Stats().integrity_checks, 0);
}

TEST_F(EngineTest, QueueLimitAndShutdown) {
  EngineOptions opts;
  opts.max_seqs = 1;
  opts.max_queue = 1;
  opts.max_batch_tokens = 1;
  Start(opts);
  std::vector<std::shared_ptr<RequestStream>> ok;
  int unavailable = 0;
  for (int i = 0; i < 10; ++i) {
    auto s = engine_->Submit(Request(std::vector<int32_t>(30, 7), 1000));
    if (s.ok()) {
      ok.push_back(*s);
    } else {
      EXPECT_EQ(s.status().code(), StatusCode::kUnavailable);
      ++unavailable;
    }
  }
  EXPECT_GT(unavailable, 0);
  engine_->Shutdown();
  for (auto& s : ok) {
    Collected c = Drain(s.get());
    EXPECT_EQ(c.last.finish, FinishReason::kError);
  }
  EXPECT_EQ(engine_->Submit(Request({5}, 1)).status().code(), StatusCode::kUnavailable);
}

// n choices of one prompt: submits them, drains every stream, returns them in order.
std::vector<Collected> DrainAll(const std::vector<std::shared_ptr<RequestStream>>& streams) {
  std::vector<Collected> out;
  for (const auto& s : streams) out.push_back(Drain(s.get()));
  return out;
}

// Each generated token's top-1 alternative is what the fake model predicts after the
// prompt and the choice's own earlier tokens: the choice read exactly its own K/V.
void ExpectOwnContext(const FakeRunner& runner, const std::vector<int32_t>& prompt, const Collected& c) {
  std::vector<int32_t> context = prompt;
  for (size_t i = 0; i < c.tokens.size(); ++i) {
    ASSERT_LT(i, c.logprobs.size());
    ASSERT_FALSE(c.logprobs[i].top.empty());
    EXPECT_EQ(c.logprobs[i].top[0].first, runner.ReferenceNext(context)) << "token " << i;
    context.push_back(c.tokens[i]);
  }
}

GenerationRequest Hot(GenerationRequest r, int32_t n, uint64_t seed) {
  r.n = n;
  r.sampling.temperature = 1.0f;  // the fake model's logits are one-hot 1.0: varied draws
  r.sampling.seed = seed;
  r.logprobs = 1;
  return r;
}

TEST_F(EngineTest, ChoicesComputeThePromptOnceAndReproduceBySeed) {
  EngineOptions opts;
  opts.max_batch_tokens = 16;
  opts.max_seqs = 8;
  opts.check_integrity = true;
  opts.kv.arena_bytes = 0;  // automatic: small pools (the integrity check walks every page)
  opts.max_context = 512;
  Start(opts);  // a window-4 layer and a global one, page 4: the 10-token prompt ends mid-page
  const std::vector<int32_t> prompt = {5, 9, 14, 3, 22, 41, 7, 7, 30, 12};
  auto streams = engine_->SubmitChoices(Hot(Request(prompt, 6), 4, 77));
  ASSERT_TRUE(streams.ok()) << streams.status().message();
  ASSERT_EQ(streams->size(), 4u);
  const std::vector<Collected> choices = DrainAll(*streams);
  // The prompt once, then each choice's 5 decodes (its 6th token is never computed).
  EXPECT_EQ(runner_->num_forward_tokens, 10 + 4 * 5);
  std::set<std::vector<int32_t>> distinct;
  for (const Collected& c : choices) {
    EXPECT_EQ(c.last.finish, FinishReason::kLength);
    EXPECT_EQ(c.tokens.size(), 6u);
    EXPECT_EQ(c.last.usage.prompt_tokens, 10);
    EXPECT_EQ(c.last.usage.completion_tokens, 6);
    ExpectOwnContext(*runner_, prompt, c);
    distinct.insert(c.tokens);
  }
  EXPECT_GT(distinct.size(), 1u) << "every choice drew the same tokens";
  EXPECT_EQ(engine_->Stats().prompt_tokens, 10);  // once per request

  // Choice j of seed 77 draws as a lone request seeded 77 + j (prompt now cached or not).
  for (int32_t j = 0; j < 4; ++j) {
    auto alone = engine_->Submit(Hot(Request(prompt, 6), 1, 77 + j));
    ASSERT_TRUE(alone.ok());
    EXPECT_EQ(Drain(alone->get()).tokens, choices[j].tokens) << "choice " << j;
  }
  // And the whole request reproduces.
  auto again = engine_->SubmitChoices(Hot(Request(prompt, 6), 4, 77));
  ASSERT_TRUE(again.ok());
  const std::vector<Collected> repeat = DrainAll(*again);
  for (int32_t j = 0; j < 4; ++j) EXPECT_EQ(repeat[j].tokens, choices[j].tokens) << "choice " << j;
  EXPECT_TRUE(WaitForPages(engine_.get(), /*expect_cached=*/true)) << "pages were not freed";
}

TEST_F(EngineTest, ChoicesEndAtDifferentTimesAndBeyondMaxSeqs) {
  EngineOptions opts;
  opts.max_batch_tokens = 8;
  opts.max_seqs = 3;  // 2 seats for forks: choices 3..5 are computed on their own
  opts.check_integrity = true;
  opts.kv.arena_bytes = 0;  // automatic: small pools (the integrity check walks every page)
  opts.max_context = 512;
  for (bool prefix_cache : {true, false}) {
    SCOPED_TRACE(prefix_cache ? "prefix cache" : "no prefix cache");
    opts.prefix_cache = prefix_cache;
    engine_.reset();  // before its runner goes
    Start(opts);
    std::vector<int32_t> prompt;
    for (int i = 0; i < 23; ++i) prompt.push_back(3 + (i * 17) % 61);
    GenerationRequest r = Hot(Request(prompt, 30), 6, 5);
    for (int32_t t = 10; t < 20; ++t) r.stop_token_ids.push_back(t);  // each stops at its own time
    auto streams = engine_->SubmitChoices(r);
    // Another request competes for the seats meanwhile.
    auto other = engine_->Submit(Request({4, 5, 6}, 12));
    ASSERT_TRUE(streams.ok() && other.ok());
    const std::vector<Collected> choices = DrainAll(*streams);
    std::set<size_t> lengths;
    for (int32_t j = 0; j < 6; ++j) {
      const Collected& c = choices[j];
      EXPECT_TRUE(c.last.finish == FinishReason::kStop || c.last.finish == FinishReason::kLength) << j;
      ExpectOwnContext(*runner_, prompt, c);
      lengths.insert(c.tokens.size());
      auto alone = engine_->Submit(Hot(Request(prompt, 30), 1, 5 + j));
      // (the lone request has no stop ids: compare the common part)
      ASSERT_TRUE(alone.ok());
      const Collected a = Drain(alone->get());
      EXPECT_EQ(std::vector<int32_t>(a.tokens.begin(), a.tokens.begin() + c.tokens.size()), c.tokens) << j;
    }
    EXPECT_GT(lengths.size(), 1u) << "every choice ended at the same length";
    EXPECT_EQ(Drain(other->get()).tokens, Reference({4, 5, 6}, 12));
    EXPECT_TRUE(WaitForPages(engine_.get(), /*expect_cached=*/prefix_cache)) << "pages were not freed";
  }
}

TEST_F(EngineTest, ChoicesSurvivePreemptionInATightPool) {
  EngineOptions opts;
  opts.max_batch_tokens = 8;
  opts.max_context = 64;
  opts.kv.arena_bytes = 3000;  // ~1.5 sequences of 64 tokens: forks and decodes preempt
  opts.check_integrity = true;
  Start(opts);
  std::vector<int32_t> prompt;
  for (int i = 0; i < 22; ++i) prompt.push_back(3 + (i * 29) % 61);
  auto streams = engine_->SubmitChoices(Hot(Request(prompt, 40), 4, 11));
  ASSERT_TRUE(streams.ok());
  const std::vector<Collected> choices = DrainAll(*streams);
  EXPECT_GT(engine_->Stats().preemptions, 0);
  for (int32_t j = 0; j < 4; ++j) {
    EXPECT_EQ(choices[j].last.finish, FinishReason::kLength) << j;
    EXPECT_EQ(choices[j].tokens.size(), 40u) << j;
    ExpectOwnContext(*runner_, prompt, choices[j]);
    auto alone = engine_->Submit(Hot(Request(prompt, 40), 1, 11 + j));
    ASSERT_TRUE(alone.ok());
    EXPECT_EQ(Drain(alone->get()).tokens, choices[j].tokens) << j;
  }
  EXPECT_TRUE(WaitForPages(engine_.get(), /*expect_cached=*/true)) << "pages were not freed";
}

TEST_F(EngineTest, CancellingChoicesFreesTheirPages) {
  EngineOptions opts;
  opts.max_batch_tokens = 8;
  opts.check_integrity = true;
  opts.kv.arena_bytes = 0;  // automatic: small pools (the integrity check walks every page)
  opts.max_context = 512;
  opts.prefix_cache = false;
  Start(opts);
  // While generating: every choice has its own pages and shares the prompt's.
  auto streams = engine_->SubmitChoices(Hot(Request(std::vector<int32_t>(41, 7), 100000), 3, 1));
  ASSERT_TRUE(streams.ok());
  for (const auto& s : *streams) ASSERT_TRUE(s->Next(kEventTimeout).has_value());
  for (const auto& s : *streams) s->Cancel();
  for (const Collected& c : DrainAll(*streams)) EXPECT_EQ(c.last.finish, FinishReason::kCancelled);
  EXPECT_TRUE(WaitForPages(engine_.get(), /*expect_cached=*/false)) << "pages were not freed";
  // Before the prompt is computed: the waiting choices end too.
  auto early = engine_->SubmitChoices(Hot(Request(std::vector<int32_t>(200, 8), 100000), 4, 1));
  ASSERT_TRUE(early.ok());
  for (const auto& s : *early) s->Cancel();
  for (const Collected& c : DrainAll(*early)) EXPECT_EQ(c.last.finish, FinishReason::kCancelled);
  // Choice 0 alone cancelled mid-prompt: the others still complete, computing the prompt.
  const std::vector<int32_t> prompt(60, 9);
  auto partly = engine_->SubmitChoices(Hot(Request(prompt, 5), 3, 1));
  ASSERT_TRUE(partly.ok());
  (*partly)[0]->Cancel();
  const std::vector<Collected> rest = DrainAll(*partly);
  EXPECT_TRUE(rest[0].last.finish == FinishReason::kCancelled || rest[0].last.finish == FinishReason::kLength);
  for (int32_t j = 1; j < 3; ++j) {
    EXPECT_EQ(rest[j].last.finish, FinishReason::kLength) << j;
    ExpectOwnContext(*runner_, prompt, rest[j]);
  }
  EXPECT_TRUE(WaitForPages(engine_.get(), /*expect_cached=*/false)) << "pages were not freed";
}

TEST_F(EngineTest, ChoicesEndTogetherOnErrorsAndShareScoring) {
  EngineOptions opts;
  opts.check_integrity = true;
  opts.kv.arena_bytes = 0;  // automatic: small pools (the integrity check walks every page)
  opts.max_context = 512;
  Start(opts);
  runner_->fail_next = 1;  // the prompt's step fails: every choice ends with it
  auto failed = engine_->SubmitChoices(Hot(Request({5, 6, 7}, 4), 3, 1));
  ASSERT_TRUE(failed.ok());
  for (const Collected& c : DrainAll(*failed)) {
    EXPECT_EQ(c.last.finish, FinishReason::kError);
    EXPECT_EQ(c.last.error, "injected failure");
  }
  // Prompt scoring (max_tokens 0): every choice carries the prompt's logprobs.
  GenerationRequest score = Request({5, 6, 7, 8, 9, 10}, 0);
  score.n = 2;
  score.prompt_logprobs = true;
  score.logprobs = 1;
  auto scored = engine_->SubmitChoices(score);
  ASSERT_TRUE(scored.ok());
  for (const Collected& c : DrainAll(*scored)) {
    EXPECT_EQ(c.last.finish, FinishReason::kLength);
    ASSERT_EQ(c.last.prompt_logprobs.size(), 5u);
    EXPECT_EQ(c.last.prompt_logprobs[4].top[0].first, runner_->ReferenceNext({5, 6, 7, 8, 9}));
  }
  // n out of range; Submit is for one choice.
  EXPECT_EQ(engine_->SubmitChoices(Hot(Request({5}, 1), 0, 1)).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(engine_->SubmitChoices(Hot(Request({5}, 1), 17, 1)).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(engine_->Submit(Hot(Request({5}, 1), 2, 1)).status().code(), StatusCode::kInvalidArgument);
  // Shutdown ends the choices still waiting for their prompt.
  auto pending = engine_->SubmitChoices(Hot(Request(std::vector<int32_t>(60, 7), 1000), 3, 1));
  ASSERT_TRUE(pending.ok());
  engine_->Shutdown();
  for (const Collected& c : DrainAll(*pending)) EXPECT_EQ(c.last.finish, FinishReason::kError);
}

}  // namespace
}  // namespace parley
