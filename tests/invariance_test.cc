// Serving invariance on real forward passes (DESIGN.md §2, STYLE.md "Tests"): a request's
// greedy tokens and logits must not depend on how the engine schedules it. Each case runs
// the same requests through Scheduler + KvCache + Transformer (the engine's step without
// its thread) alone, batched with 7 others of different lengths, prefilled in chunks of
// 16 / 64 / whole, and in a pool so small that sequences are preempted and recomputed.
// Tokens must be identical and logits within 1e-4 relative. Tiny models always; Gemma 3
// 270M when models/ has it.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>

#include "engine/scheduler.h"
#include "engine/transformer_runner.h"
#include "model/model.h"
#include "sampling/sampler.h"
#include "tests/tiny_model.h"

namespace parley {
namespace {

namespace fs = std::filesystem;

struct RunResult {
  std::vector<int32_t> tokens;              // generated
  std::vector<std::vector<float>> logits;   // the logits each token was picked from
};

struct RunConfig {
  int32_t max_batch_tokens = 4096;
  int32_t max_seqs = 8;
  double arena_seqs = 0;  // > 0: an arena for only this many sequences of max_context
  int32_t max_context = 1024;
  int32_t max_chunk = 0;  // per sequence, 0: none
  KvDtype dtype = KvDtype::kF32;
};

// Runs `prompts` to `max_new` greedy tokens each under `cfg`; returns per-request results
// and (through *preemptions) how many preemptions happened.
std::vector<RunResult> Run(TransformerRunner* runner, const std::vector<std::vector<int32_t>>& prompts,
                           int32_t max_new, const RunConfig& cfg, int64_t* preemptions = nullptr) {
  auto layout = KvLayout::Make(runner->LayerWindows(), runner->KvOwners(), runner->kv_dim());
  EXPECT_TRUE(layout.ok());
  KvCacheOptions kv;
  kv.page_size = 16;
  kv.dtype = cfg.dtype;
  kv.max_context = cfg.max_context;
  kv.max_chunk = cfg.max_chunk > 0 ? cfg.max_chunk : cfg.max_batch_tokens;
  kv.arena_bytes = 256ll << 20;
  if (cfg.arena_seqs > 0) kv.arena_bytes = KvCache::ArenaBytesFor(*layout, kv, cfg.arena_seqs);
  auto cache = KvCache::Create(*layout, kv);
  EXPECT_TRUE(cache.ok()) << cache.status().message();
  if (!cache.ok()) return {};
  Scheduler scheduler(cache->get(), SchedulerOptions{cfg.max_batch_tokens, cfg.max_seqs});
  std::vector<Sequence> seqs(prompts.size());
  std::vector<RunResult> results(prompts.size());
  for (size_t i = 0; i < prompts.size(); ++i) {
    seqs[i].id = static_cast<int64_t>(i);
    seqs[i].tokens = prompts[i];
    seqs[i].num_prompt = static_cast<int32_t>(prompts[i].size());
    seqs[i].max_chunk = cfg.max_chunk;
    scheduler.Add(&seqs[i]);
  }
  const int32_t vocab = runner->vocab_size();
  std::vector<float> logits;
  for (int step = 0; scheduler.num_running() + scheduler.num_waiting() > 0; ++step) {
    if (step > 20000) {
      ADD_FAILURE() << "no progress";
      break;
    }
    SchedulerOutput out = scheduler.Schedule();
    std::vector<ForwardSeq> batch;
    for (const ScheduledSeq& x : out.scheduled) {
      batch.push_back(ToForwardSeq(x));
    }
    Status st = runner->Forward(batch, cache->get(), &logits);
    EXPECT_TRUE(st.ok()) << st.message();
    if (!st.ok()) break;
    scheduler.Update(out);
    size_t row = 0;
    for (size_t i = 0; i < batch.size(); ++i) {
      if (batch[i].num_logit_rows() == 0) continue;
      Sequence* s = out.scheduled[i].seq;
      std::span<const float> r(logits.data() + row++ * vocab, vocab);
      RunResult& res = results[s->id];
      res.tokens.push_back(ArgMax(r));
      res.logits.emplace_back(r.begin(), r.end());
      s->tokens.push_back(res.tokens.back());
      if (static_cast<int32_t>(res.tokens.size()) == max_new) scheduler.Finish(s);
    }
    Status integrity = scheduler.CheckIntegrity();
    EXPECT_TRUE(integrity.ok()) << integrity.message();
  }
  if (preemptions) *preemptions = scheduler.num_preemptions();
  return results;
}

// Logits may differ by this much, relative to max(1, |logit|) (the issue's bound). The
// kernels are batch invariant (quant_simd_test's MatMulRowsIsBatchInvariant), so in
// practice the difference is 0.
float g_tolerance = 1e-4f;
float g_worst = 0;  // the largest difference seen, printed per model

void ExpectSame(const RunResult& want, const RunResult& got, const std::string& what) {
  ASSERT_EQ(want.tokens, got.tokens) << what;
  for (size_t t = 0; t < want.logits.size(); ++t) {
    float worst = 0;
    for (size_t v = 0; v < want.logits[t].size(); ++v) {
      const float a = want.logits[t][v], b = got.logits[t][v];
      worst = std::max(worst, std::fabs(a - b) / std::max(1.0f, std::fabs(a)));
    }
    EXPECT_LE(worst, g_tolerance) << what << ", token " << t;
    g_worst = std::max(g_worst, worst);
  }
}

std::vector<std::vector<int32_t>> Prompts(int32_t vocab, const std::vector<int32_t>& lengths) {
  std::vector<std::vector<int32_t>> prompts;
  uint32_t x = 12345;
  for (int32_t n : lengths) {
    prompts.push_back({});
    for (int32_t i = 0; i < n; ++i) {
      x = x * 1664525u + 1013904223u;
      prompts.back().push_back(static_cast<int32_t>((x >> 8) % vocab));
    }
  }
  return prompts;
}

// The checks, shared by the tiny models and Gemma.
void CheckInvariance(TransformerRunner* runner, const std::vector<int32_t>& lengths, int32_t max_new) {
  auto prompts = Prompts(runner->vocab_size(), lengths);
  g_worst = 0;
  // Alone: each request in its own run.
  std::vector<RunResult> alone;
  for (const auto& p : prompts) alone.push_back(Run(runner, {p}, max_new, RunConfig{})[0]);
  // Batched with the 7 others.
  {
    auto batched = Run(runner, prompts, max_new, RunConfig{512, 8});
    for (size_t i = 0; i < prompts.size(); ++i) ExpectSame(alone[i], batched[i], "batched #" + std::to_string(i));
  }
  // Chunked prefill of the first request (16, 64, and the whole prompt in one chunk).
  for (int32_t chunk : {16, 64}) {
    RunConfig cfg;
    cfg.max_chunk = chunk;
    auto chunked = Run(runner, {prompts[0]}, max_new, cfg);
    ExpectSame(alone[0], chunked[0], "chunks of " + std::to_string(chunk));
  }
  // Preempted and resumed: an arena too small for all eight at once.
  {
    RunConfig cfg;
    cfg.max_batch_tokens = 128;
    cfg.max_chunk = 16;  // small chunks: all eight admitted at once, then all grow
    cfg.arena_seqs = 1.3;
    cfg.max_context = lengths.back() + max_new + 16;
    int64_t preemptions = 0;
    auto tight = Run(runner, prompts, max_new, cfg, &preemptions);
    EXPECT_GT(preemptions, 0) << "the arena was meant to force preemption";
    for (size_t i = 0; i < prompts.size(); ++i) ExpectSame(alone[i], tight[i], "preempted run #" + std::to_string(i));
    std::printf("invariance: greedy tokens identical; worst relative logit difference %.2e "
                "(tolerance %.0e); %lld preemptions in the tight run\n",
                g_worst, g_tolerance, static_cast<long long>(preemptions));
  }
}

std::unique_ptr<Model> LoadTiny(const testing::TinyModelSpec& spec) {
  std::string path = testing::TempModelPath("inv_" + spec.arch);
  EXPECT_TRUE(testing::WriteTinyModel(spec, path).ok());
  auto m = Model::Load(path);
  std::remove(path.c_str());
  EXPECT_TRUE(m.ok()) << m.status().message();
  return m.ok() ? std::move(m).value() : nullptr;
}

TEST(InvarianceTest, TinyLlama) {
  testing::TinyModelSpec spec;
  spec.arch = "llama";
  spec.context = 1024;
  auto model = LoadTiny(spec);
  ASSERT_NE(model, nullptr);
  TransformerRunner runner(*model, 2);
  // kv_dim 32 f32: one 16-token page of 2 layers = 8 KiB.
  CheckInvariance(&runner, {5, 17, 33, 64, 90, 120, 150, 200}, 12);
}

TEST(InvarianceTest, TinyGemmaWithWindows) {
  testing::TinyModelSpec spec = testing::SmallGemmaSpec(6, 24);
  spec.context = 1024;
  auto model = LoadTiny(spec);
  ASSERT_NE(model, nullptr);
  TransformerRunner runner(*model, 2);
  CheckInvariance(&runner, {5, 17, 33, 64, 90, 120, 150, 200}, 12);
}

TEST(InvarianceTest, Gemma3_270M) {
  const char* d = std::getenv("PARLEY_SOURCE_DIR");
  const fs::path path = fs::path(d ? d : ".") / "models" / "gemma-3-270m-q4_k_m.gguf";
  if (!fs::exists(path)) GTEST_SKIP() << path << " not fetched (scripts/fetch_models.py)";
  auto model = Model::Load(path.string());
  ASSERT_TRUE(model.ok()) << model.status().message();
  TransformerRunner runner(**model, 2);
  // Two prompts cross the 512-token window.
  CheckInvariance(&runner, {7, 40, 90, 150, 260, 380, 540, 600}, 4);
}

}  // namespace
}  // namespace parley
