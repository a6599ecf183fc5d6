// Stall-free scheduling (SchedulerOptions::step_target_s) on a simulated clock: a fake
// runner computes the K/V, and each step "takes" the time a cost function gives for its
// shape (a fixed floor, a per-token cost and a per-attention-pair cost, with noise). The
// scheduler learns that cost online, as it does in the engine.
#include <gtest/gtest.h>

#include <memory>
#include <random>

#include "engine/fake_runner.h"
#include "engine/scheduler.h"

namespace parley {
namespace {

using testing::FakeRunner;

constexpr double kTarget = 0.05;  // seconds per step while streams decode

double TrueCost(const SchedulerOutput& out, double noise) {
  StepShape s;
  for (const ScheduledSeq& x : out.scheduled) s.Add(x.start, x.num_new);
  return (0.010 + 0.0002 * s.tokens + 2e-8 * s.attention_pairs) * noise;
}

struct Sim {
  explicit Sim(double target, int32_t max_seqs = 16) : runner({0, 0}, {}, 61) {
    auto layout = KvLayout::Make(runner.LayerWindows(), runner.KvOwners(), runner.kv_dim(), runner.head_dim());
    KvCacheOptions kv;
    kv.arena_bytes = 64 << 20;
    kv.page_size = 16;
    kv.max_context = 4096;
    cache = std::move(KvCache::Create(*layout, kv)).value();
    SchedulerOptions o;
    o.max_batch_tokens = 512;
    o.max_seqs = max_seqs;
    o.step_target_s = target;
    scheduler = std::make_unique<Scheduler>(cache.get(), o);
  }

  Sequence* Add(int32_t prompt_len, int32_t max_new) {
    auto s = std::make_unique<Sequence>();
    s->id = static_cast<int64_t>(seqs.size());
    for (int32_t i = 0; i < prompt_len; ++i) s->tokens.push_back(3 + (i * 7 + s->id) % 50);
    s->num_prompt = prompt_len;
    seqs.push_back(std::move(s));
    max_new_.push_back(max_new);
    scheduler->Add(seqs.back().get());
    return seqs.back().get();
  }

  // One step; returns its simulated time.
  double Step() {
    SchedulerOutput out = scheduler->Schedule();
    last = out;
    if (out.empty()) return 0;
    std::vector<ForwardSeq> batch;
    for (const ScheduledSeq& x : out.scheduled) batch.push_back(scheduler->ToForward(x));
    std::vector<float> logits;
    EXPECT_TRUE(runner.Forward(batch, cache.get(), &logits).ok());
    scheduler->Update(out);
    for (const ScheduledSeq& x : out.scheduled) {
      Sequence* s = x.seq;
      if (s->num_computed < s->num_tokens()) continue;  // mid-prompt
      s->tokens.push_back(5);
      ++generated;
      if (s->num_tokens() - s->num_prompt >= max_new_[s->id]) {
        scheduler->Finish(s);
        ++finished;
      }
    }
    const double seconds = TrueCost(out, noise(rng));
    scheduler->ObserveStep(out, seconds);
    clock += seconds;
    EXPECT_TRUE(scheduler->CheckIntegrity().ok());
    return seconds;
  }

  bool HasDecode() const {
    for (const ScheduledSeq& x : last.scheduled) {
      if (x.num_new == 1 && x.start >= x.seq->num_prompt) return true;
    }
    return false;
  }

  FakeRunner runner;
  std::unique_ptr<KvCache> cache;
  std::unique_ptr<Scheduler> scheduler;
  std::vector<std::unique_ptr<Sequence>> seqs;
  std::vector<int32_t> max_new_;
  SchedulerOutput last;
  std::mt19937 rng{11};
  std::uniform_real_distribution<double> noise{0.97, 1.03};
  double clock = 0;
  int64_t generated = 0;
  int64_t finished = 0;
};

// Eight streams decode; then a 3000-token prompt arrives. Returns the longest step that
// carried a decode while the prompt was prefilled, and (in *steps) how many steps its
// prefill took.
double LongestDecodeStepDuringAPrefill(double target, int* steps) {
  Sim sim(target);
  for (int i = 0; i < 8; ++i) sim.Add(32, 1000);
  for (int i = 0; i < 30; ++i) sim.Step();  // prompts done, streams decoding, model trained
  Sequence* longp = sim.Add(3000, 4);
  double worst = 0;
  *steps = 0;
  while (longp->num_computed < longp->num_prompt) {
    const double t = sim.Step();
    if (sim.HasDecode()) worst = std::max(worst, t);
    if (++*steps > 1000) break;
  }
  return worst;
}

TEST(StallFreeTest, NoDecodeWaitsLongerThanTheTargetWhileALongPromptPrefills) {
  int paced_steps = 0, unpaced_steps = 0;
  const double paced = LongestDecodeStepDuringAPrefill(kTarget, &paced_steps);
  const double unpaced = LongestDecodeStepDuringAPrefill(0, &unpaced_steps);
  // Without a target the 512-token chunks make the streams wait ~0.12 s per token.
  EXPECT_GT(unpaced, 2 * kTarget);
  EXPECT_LE(paced, kTarget * 1.06) << "a decode waited past the target";
  // The prompt still goes as fast as the leftover allows: ~(50 - 12) ms / 0.2 ms ≈ 150
  // tokens a step at first, fewer as its context grows.
  EXPECT_LE(paced_steps, 3000 / 100);
  EXPECT_GT(paced_steps, unpaced_steps);
}

TEST(StallFreeTest, PromptsStillProgressWhenDecodesAloneFillTheTarget) {
  // Four streams' decode step (~10.8 ms) leaves almost nothing of an 11.5 ms target: a
  // prompt admitted beside them still gets as much time as the decodes (~50 tokens a step).
  Sim sim(0.0115);
  for (int i = 0; i < 4; ++i) sim.Add(32, 500);
  for (int i = 0; i < 20; ++i) sim.Step();
  Sequence* p = sim.Add(200, 2);
  int steps = 0;
  while (p->num_computed < p->num_prompt && steps < 100) {
    sim.Step();
    ++steps;
  }
  EXPECT_LE(steps, 200 / 40 + 1) << "the prompt starved";
  EXPECT_GE(steps, 200 / 64);
}

TEST(StallFreeTest, AnOutOfReachTargetNeitherStarvesPromptsNorHoldsAdmission) {
  // A 5 ms target on a machine whose decode floor is 10 ms (a loaded or slower CPU): pacing
  // gives prompts as much time as the decodes, and new conversations are still admitted.
  Sim sim(0.005);
  for (int i = 0; i < 4; ++i) sim.Add(32, 500);
  for (int i = 0; i < 20; ++i) sim.Step();
  Sequence* p = sim.Add(600, 2);
  int steps = 0;
  while (p->num_computed < p->num_prompt && steps < 100) {
    sim.Step();
    ++steps;
  }
  EXPECT_LE(steps, 600 / 40 + 1) << "the prompt starved";
  EXPECT_EQ(sim.scheduler->num_waiting(), 0);
}

TEST(StallFreeTest, AdmissionWaitsWhenOneMoreStreamWouldBreakTheTarget) {
  // Decode steps cost 10 ms + ~0.2 ms per stream: with a 30 ms target about 95 streams fit.
  Sim sim(0.030, /*max_seqs=*/256);
  for (int i = 0; i < 2; ++i) sim.Add(16, 400);
  for (int i = 0; i < 20; ++i) sim.Step();  // the model learns the cost first
  for (int i = 0; i < 150; ++i) sim.Add(16, 400);
  int max_running = 0;
  for (int i = 0; i < 200; ++i) {
    sim.Step();
    if (i > 40) max_running = std::max(max_running, sim.scheduler->num_running());
  }
  EXPECT_LT(max_running, 120);
  EXPECT_GE(max_running, 60);
  EXPECT_GT(sim.scheduler->num_waiting(), 0);
}

TEST(StallFreeTest, ThroughputHoldsPastSaturation) {
  // Closed loop: `users` conversations at a time, each a 300-token prompt and 40 tokens
  // of reply, replaced as soon as it finishes. Tokens generated per simulated second.
  auto throughput = [](int users) {
    Sim sim(kTarget);
    for (int u = 0; u < users; ++u) sim.Add(300, 40);
    while (sim.clock < 60) {
      const int64_t before = sim.finished;
      sim.Step();
      for (int64_t k = before; k < sim.finished; ++k) sim.Add(300, 40);
    }
    return sim.generated / sim.clock;
  };
  double peak = 0;
  std::vector<double> t;
  for (int users : {2, 4, 8, 16, 32, 64}) {
    t.push_back(throughput(users));
    peak = std::max(peak, t.back());
  }
  EXPECT_GE(t.back(), 0.95 * peak) << "throughput fell past saturation";
  EXPECT_GE(t[4], 0.95 * peak);
}

}  // namespace
}  // namespace parley
