// Serving invariance on real forward passes (DESIGN.md §2, STYLE.md "Tests"): a request's
// greedy tokens and logits must not depend on how the engine schedules it. Each case runs
// the same requests through Scheduler + KvCache + Transformer (the engine's step without
// its thread) alone, batched with 7 others of different lengths, prefilled in chunks of
// 16 / 64 / whole, and in a pool so small that sequences are preempted and recomputed.
// Tokens and logits must be bit-identical (docs/ARCHITECTURE.md). Then the same for requests
// resumed from the prefix cache (CheckCachedResume). With f32 and with int8 KV caches.
// Tiny models always; Gemma 3 270M when models/ has it.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>

#include "base/check.h"
#include "engine/scheduler.h"
#include "engine/transformer_runner.h"
#include "model/model.h"
#include "sampling/sampler.h"
#include "gguf/testing/tiny_model.h"

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
  bool prefix_cache = false;
  int64_t host_bytes = 0;  // prefix cache host tier
  HostCodec host_codec = HostCodec::kRaw;
};

// A scheduler, KV cache and (optionally) prefix cache that persist across Run calls, so a
// later call can resume from what an earlier one left in the prefix cache.
class Harness {
 public:
  Harness(TransformerRunner* runner, const RunConfig& cfg) : runner_(runner), cfg_(cfg) {
    auto layout = KvLayout::Make(runner->LayerWindows(), runner->KvOwners(), runner->kv_dim(), runner->head_dim());
    PARLEY_CHECK(layout.ok());
    KvCacheOptions kv;
    kv.page_size = 16;
    kv.dtype = cfg.dtype;
    kv.max_context = cfg.max_context;
    kv.max_chunk = cfg.max_chunk > 0 ? cfg.max_chunk : cfg.max_batch_tokens;
    kv.window_keep = cfg.prefix_cache ? 4 * kv.page_size : 0;
    kv.arena_bytes = 256ll << 20;
    if (cfg.arena_seqs > 0) kv.arena_bytes = KvCache::ArenaBytesFor(*layout, kv, cfg.arena_seqs);
    auto cache = KvCache::Create(*layout, kv);
    PARLEY_CHECK(cache.ok()) << cache.status().message();
    cache_ = std::move(cache).value();
    if (cfg.prefix_cache) {
      PrefixCacheOptions po;
      po.host_bytes = cfg.host_bytes;
      po.host_codec = cfg.host_codec;
      prefix_ = std::make_unique<PrefixCache>(cache_.get(), po);
    }
    scheduler_ = std::make_unique<Scheduler>(cache_.get(), SchedulerOptions{cfg.max_batch_tokens, cfg.max_seqs},
                                             prefix_.get());
  }

  // Runs `prompts` to `max_new` greedy tokens each; `cached` (optional) gets the prompt
  // tokens each request resumed from the prefix cache.
  std::vector<RunResult> Run(const std::vector<std::vector<int32_t>>& prompts, int32_t max_new,
                             std::vector<int32_t>* cached = nullptr) {
    std::vector<Sequence> seqs(prompts.size());
    std::vector<RunResult> results(prompts.size());
    for (size_t i = 0; i < prompts.size(); ++i) {
      seqs[i].id = static_cast<int64_t>(i);
      seqs[i].tokens = prompts[i];
      seqs[i].num_prompt = static_cast<int32_t>(prompts[i].size());
      seqs[i].max_chunk = cfg_.max_chunk;
      scheduler_->Add(&seqs[i]);
    }
    const int32_t vocab = runner_->vocab_size();
    std::vector<float> logits;
    for (int step = 0; scheduler_->num_running() + scheduler_->num_waiting() > 0; ++step) {
      if (step > 20000) {
        ADD_FAILURE() << "no progress";
        break;
      }
      SchedulerOutput out = scheduler_->Schedule();
      std::vector<ForwardSeq> batch;
      for (const ScheduledSeq& x : out.scheduled) batch.push_back(scheduler_->ToForward(x));
      Status st = runner_->Forward(batch, cache_.get(), &logits);
      EXPECT_TRUE(st.ok()) << st.message();
      if (!st.ok()) break;
      scheduler_->Update(out);
      size_t row = 0;
      for (size_t i = 0; i < batch.size(); ++i) {
        if (batch[i].num_logit_rows() == 0) continue;
        Sequence* s = out.scheduled[i].seq;
        std::span<const float> r(logits.data() + row++ * vocab, vocab);
        RunResult& res = results[s->id];
        res.tokens.push_back(ArgMax(r));
        res.logits.emplace_back(r.begin(), r.end());
        s->tokens.push_back(res.tokens.back());
        if (static_cast<int32_t>(res.tokens.size()) == max_new) scheduler_->Finish(s);
      }
      Status integrity = scheduler_->CheckIntegrity();
      EXPECT_TRUE(integrity.ok()) << integrity.message();
    }
    if (cached != nullptr) {
      cached->clear();
      for (const Sequence& s : seqs) cached->push_back(s.num_cached);
    }
    return results;
  }

  int64_t preemptions() const { return scheduler_->num_preemptions(); }
  const PrefixCache* prefix() const { return prefix_.get(); }

 private:
  TransformerRunner* runner_;
  RunConfig cfg_;
  std::unique_ptr<KvCache> cache_;
  std::unique_ptr<PrefixCache> prefix_;
  std::unique_ptr<Scheduler> scheduler_;
};

// Runs `prompts` to `max_new` greedy tokens each under `cfg` in a fresh harness; returns
// per-request results and (through *preemptions) how many preemptions happened.
std::vector<RunResult> Run(TransformerRunner* runner, const std::vector<std::vector<int32_t>>& prompts,
                           int32_t max_new, const RunConfig& cfg, int64_t* preemptions = nullptr) {
  Harness h(runner, cfg);
  std::vector<RunResult> results = h.Run(prompts, max_new);
  if (preemptions) *preemptions = h.preemptions();
  return results;
}

// Logits must be bit-identical: the kernels are batch invariant (quant_simd_test's
// MatMulRowsIsBatchInvariant) and docs/ARCHITECTURE.md promises it. The largest relative
// difference, max(1, |logit|), is still measured so that a failure says how far off it is.
float g_tolerance = 0;
float g_worst = 0;  // the largest difference seen, printed per model

void ExpectSame(const RunResult& want, const RunResult& got, const std::string& what) {
  ASSERT_EQ(want.tokens, got.tokens) << what;
  for (size_t t = 0; t < want.logits.size(); ++t) {
    float worst = 0;
    for (size_t v = 0; v < want.logits[t].size(); ++v) {
      const float a = want.logits[t][v], b = got.logits[t][v];
      worst = std::max(worst, std::fabs(a - b) / std::max(1.0f, std::fabs(a)));
    }
    ASSERT_EQ(want.logits[t].size(), got.logits[t].size()) << what << ", token " << t;
    EXPECT_EQ(0, std::memcmp(want.logits[t].data(), got.logits[t].data(),
                             want.logits[t].size() * sizeof(float)))
        << what << ", token " << t << ": logits differ (worst relative " << worst << ")";
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

// A default RunConfig with a KV cache of `dtype`.
RunConfig Config(KvDtype dtype) {
  RunConfig cfg;
  cfg.dtype = dtype;
  return cfg;
}

// The checks, shared by the tiny models and Gemma, with a KV cache of `dtype` in every run
// (int8 rows are quantized per row, so they too must not depend on the schedule).
void CheckInvariance(TransformerRunner* runner, const std::vector<int32_t>& lengths, int32_t max_new,
                     KvDtype dtype = KvDtype::kF32) {
  auto prompts = Prompts(runner->vocab_size(), lengths);
  g_worst = 0;
  // Alone: each request in its own run.
  std::vector<RunResult> alone;
  for (const auto& p : prompts) alone.push_back(Run(runner, {p}, max_new, Config(dtype))[0]);
  // Batched with the 7 others.
  {
    RunConfig cfg = Config(dtype);
    cfg.max_batch_tokens = 512;
    auto batched = Run(runner, prompts, max_new, cfg);
    for (size_t i = 0; i < prompts.size(); ++i) ExpectSame(alone[i], batched[i], "batched #" + std::to_string(i));
  }
  // Chunked prefill of the first request (16, 64, and the whole prompt in one chunk).
  for (int32_t chunk : {16, 64}) {
    RunConfig cfg = Config(dtype);
    cfg.max_chunk = chunk;
    auto chunked = Run(runner, {prompts[0]}, max_new, cfg);
    ExpectSame(alone[0], chunked[0], "chunks of " + std::to_string(chunk));
  }
  // Preempted and resumed: an arena too small for all eight at once.
  {
    RunConfig cfg = Config(dtype);
    cfg.max_batch_tokens = 128;
    cfg.max_chunk = 16;  // small chunks: all eight admitted at once, then all grow
    cfg.arena_seqs = 1.3;
    cfg.max_context = lengths.back() + max_new + 16;
    int64_t preemptions = 0;
    auto tight = Run(runner, prompts, max_new, cfg, &preemptions);
    EXPECT_GT(preemptions, 0) << "the arena was meant to force preemption";
    for (size_t i = 0; i < prompts.size(); ++i) ExpectSame(alone[i], tight[i], "preempted run #" + std::to_string(i));
    std::printf("invariance (%s KV): greedy tokens identical; worst relative logit difference %.2e "
                "(tolerance %.0e); %lld preemptions in the tight run\n",
                KvDtypeName(dtype), g_worst, g_tolerance, static_cast<long long>(preemptions));
  }
}

std::vector<int32_t> Concat(std::vector<int32_t> a, const std::vector<int32_t>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// Cached vs recomputed: a second turn (the first turn's prompt and reply plus new tokens),
// and an edit of the last turn (the first prompt plus other new tokens), resumed from the
// prefix cache, must give the tokens and logits a fresh run gives; also when the pool is so
// small that the first turns' pages were spilled to the host tier and come back by copy
// (`codec` must be lossless for the pool's dtype: raw or zstd, or int8 for an int8 pool).
void CheckCachedResume(TransformerRunner* runner, const std::vector<int32_t>& lengths, int32_t max_new,
                       KvDtype dtype = KvDtype::kF32, HostCodec codec = HostCodec::kRaw) {
  auto prompts = Prompts(runner->vocab_size(), lengths);
  auto extra = Prompts(runner->vocab_size(), {7, 9});
  g_worst = 0;
  for (int tight = 0; tight < 2; ++tight) {
    RunConfig cfg = Config(dtype);
    cfg.host_codec = codec;
    cfg.prefix_cache = true;
    cfg.max_batch_tokens = 128;
    cfg.max_chunk = 32;
    if (tight) {
      cfg.arena_seqs = 1.3;
      cfg.max_context = lengths.back() + 2 * max_new + 32;
      cfg.host_bytes = 256ll << 20;
    }
    Harness h(runner, cfg);
    std::vector<RunResult> first = h.Run(prompts, max_new);
    std::vector<std::vector<int32_t>> next, edit;
    for (size_t i = 0; i < prompts.size(); ++i) {
      next.push_back(Concat(Concat(prompts[i], first[i].tokens), extra[0]));
      edit.push_back(Concat(prompts[i], extra[1]));
    }
    std::vector<int32_t> cached;
    const std::string mode = tight ? " (tight pool, host tier)" : "";
    std::vector<RunResult> second = h.Run(next, max_new, &cached);
    for (size_t i = 0; i < prompts.size(); ++i) {
      const int32_t full_pages = (static_cast<int32_t>(prompts[i].size()) + max_new - 1) / 16 * 16;
      if (full_pages > 0) {
        EXPECT_GT(cached[i], 0) << "second turn #" << i << mode << " missed the cache";
      }
      ExpectSame(Run(runner, {next[i]}, max_new, Config(dtype))[0], second[i],
                 "second turn #" + std::to_string(i) + mode);
    }
    std::vector<RunResult> edited = h.Run(edit, max_new, &cached);
    for (size_t i = 0; i < prompts.size(); ++i) {
      if (prompts[i].size() >= 16) {
        EXPECT_GT(cached[i], 0) << "edited turn #" << i << mode << " missed the cache";
      }
      ExpectSame(Run(runner, {edit[i]}, max_new, Config(dtype))[0], edited[i],
                 "edited turn #" + std::to_string(i) + mode);
    }
    if (tight) {
      EXPECT_GT(h.prefix()->stats().restored_pages, 0) << "the tight pool was meant to spill and restore";
    }
    std::printf("cached resume%s (%s KV, %s host codec): greedy tokens identical; worst relative logit "
                "difference %.2e; %lld pages restored from the host tier\n",
                mode.c_str(), KvDtypeName(dtype), HostCodecName(codec), g_worst, static_cast<long long>(h.prefix()->stats().restored_pages));
  }
}

std::unique_ptr<Model> LoadTiny(const testing::TinyModelSpec& spec, bool int8_weights = false,
                                bool packed_weights = false) {
  std::string path = testing::TempModelPath("inv_" + spec.arch);
  EXPECT_TRUE(testing::WriteTinyModel(spec, path).ok());
  ModelLoadOptions options;
  options.int8_weights = int8_weights;
  options.packed_weights = packed_weights;
  options.threads = 2;
  auto m = Model::Load(path, nullptr, options);
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
  CheckCachedResume(&runner, {5, 17, 33, 64, 90, 120, 150, 200}, 12);
}

TEST(InvarianceTest, TinyGemmaWithWindows) {
  testing::TinyModelSpec spec = testing::SmallGemmaSpec(6, 24);
  spec.context = 1024;
  auto model = LoadTiny(spec);
  ASSERT_NE(model, nullptr);
  TransformerRunner runner(*model, 2);
  CheckInvariance(&runner, {5, 17, 33, 64, 90, 120, 150, 200}, 12);
  CheckCachedResume(&runner, {5, 17, 33, 64, 90, 120, 150, 200}, 12);  // windows of 24: they move
}

// int8 weights (W8A8): activations are quantized per token, so a token's products do not
// depend on its batch either.
TEST(InvarianceTest, TinyGemmaInt8Weights) {
  testing::TinyModelSpec spec = testing::SmallGemmaSpec(6, 24);
  spec.context = 1024;
  auto model = LoadTiny(spec, /*int8_weights=*/true);
  ASSERT_NE(model, nullptr);
  ASSERT_TRUE(model->converted_weights());
  TransformerRunner runner(*model, 2);
  CheckInvariance(&runner, {5, 17, 33, 64, 90, 120, 150, 200}, 12);
  CheckCachedResume(&runner, {5, 17, 33, 64, 90, 120, 150, 200}, 12);
}

// Packed weights at the file's bits (Q4_1 layers, a Q8_0 head): 16-bit activations per
// token and block, so a token's products do not depend on its batch either.
TEST(InvarianceTest, TinyGemmaPackedWeights) {
  testing::TinyModelSpec spec = testing::SmallGemmaSpec(6, 24);
  spec.context = 1024;
  spec.weight_type = TensorType::kQ4_1;
  spec.embed_type = TensorType::kQ8_0;
  auto model = LoadTiny(spec, /*int8_weights=*/false, /*packed_weights=*/true);
  ASSERT_NE(model, nullptr);
  ASSERT_TRUE(model->packed_weights());
  TransformerRunner runner(*model, 2);
  CheckInvariance(&runner, {5, 17, 33, 64, 90, 120, 150, 200}, 12);
  CheckCachedResume(&runner, {5, 17, 33, 64, 90, 120, 150, 200}, 12);
}

// int8 KV: rows are quantized per row and head, so a row's bytes (and every logit) must not
// depend on the schedule either; cached pages restored through the int8 host codec are the
// same bytes (an int8 pool's pages are stored raw). Llama: two KV heads per row.
TEST(InvarianceTest, TinyLlamaInt8Kv) {
  testing::TinyModelSpec spec;
  spec.arch = "llama";
  spec.context = 1024;
  auto model = LoadTiny(spec);
  ASSERT_NE(model, nullptr);
  TransformerRunner runner(*model, 2);
  CheckInvariance(&runner, {5, 17, 33, 64, 90, 120, 150, 200}, 12, KvDtype::kI8);
  CheckCachedResume(&runner, {5, 17, 33, 64, 90, 120, 150, 200}, 12, KvDtype::kI8, HostCodec::kInt8);
}

TEST(InvarianceTest, TinyGemmaWithWindowsInt8Kv) {
  testing::TinyModelSpec spec = testing::SmallGemmaSpec(6, 24);
  spec.context = 1024;
  auto model = LoadTiny(spec);
  ASSERT_NE(model, nullptr);
  TransformerRunner runner(*model, 2);
  CheckInvariance(&runner, {5, 17, 33, 64, 90, 120, 150, 200}, 12, KvDtype::kI8);
  CheckCachedResume(&runner, {5, 17, 33, 64, 90, 120, 150, 200}, 12, KvDtype::kI8);
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
  CheckCachedResume(&runner, {40, 300, 600}, 4);  // 600 + 4 + 7: past the 512 window
}

TEST(InvarianceTest, Gemma3_270M_Int8Weights) {
  const char* d = std::getenv("PARLEY_SOURCE_DIR");
  const fs::path path = fs::path(d ? d : ".") / "models" / "gemma-3-270m-q4_k_m.gguf";
  if (!fs::exists(path)) GTEST_SKIP() << path << " not fetched (scripts/fetch_models.py)";
  ModelLoadOptions options;
  options.int8_weights = true;
  options.threads = 2;
  auto model = Model::Load(path.string(), nullptr, options);
  ASSERT_TRUE(model.ok()) << model.status().message();
  TransformerRunner runner(**model, 2);
  CheckInvariance(&runner, {7, 40, 90, 150, 260, 380, 540, 600}, 4);
}

TEST(InvarianceTest, Gemma3_270M_Int8Kv) {
  const char* d = std::getenv("PARLEY_SOURCE_DIR");
  const fs::path path = fs::path(d ? d : ".") / "models" / "gemma-3-270m-q4_k_m.gguf";
  if (!fs::exists(path)) GTEST_SKIP() << path << " not fetched (scripts/fetch_models.py)";
  auto model = Model::Load(path.string());
  ASSERT_TRUE(model.ok()) << model.status().message();
  TransformerRunner runner(**model, 2);
  CheckInvariance(&runner, {7, 40, 90, 150, 260, 380, 540, 600}, 4, KvDtype::kI8);
  CheckCachedResume(&runner, {40, 300, 600}, 4, KvDtype::kI8, HostCodec::kInt8);
}

}  // namespace
}  // namespace parley
