// The quality canary: its job logic against a fake exact scorer (teacher forcing, slicing,
// resume, queue bound, selection), then inside the engine on a tiny real model: reading ~0
// when the serving path is the exact path, > 0 when it is not, and never holding up requests.
#include "engine/canary.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <thread>

#include "engine/engine.h"
#include "engine/exact_scorer.h"
#include "engine/transformer_runner.h"
#include "sampling/sampler.h"
#include "gguf/testing/tiny_model.h"

namespace parley {
namespace {

using namespace std::chrono_literals;

// A fake exact path: the logits at position p are a fixed function of (token at p, p), and it
// remembers what it was fed, in order.
class FakeScorer : public CanaryScorer {
 public:
  explicit FakeScorer(int32_t vocab = 8, int32_t max_chunk = 1 << 20, std::chrono::milliseconds delay = 0ms)
      : vocab_(vocab), max_chunk_(max_chunk), delay_(delay) {}
  static std::vector<float> Row(int32_t token, int32_t pos, int32_t vocab) {
    std::vector<float> row(vocab);
    for (int32_t j = 0; j < vocab; ++j) row[j] = 3.0f * std::sin(0.9f * token + 0.37f * pos + 1.3f * j);
    return row;
  }

  int32_t vocab_size() const override { return vocab_; }
  int32_t max_tokens() const override { return 1 << 20; }
  int32_t max_chunk() const override { return max_chunk_; }
  int32_t Resume(std::span<const int32_t> tokens) override {
    size_t common = 0;
    while (common < held.size() && common < tokens.size() && held[common] == tokens[common]) ++common;
    held.resize(common);
    return static_cast<int32_t>(common);
  }
  Status Forward(std::span<const int32_t> tokens, std::vector<float>* logits) override {
    if (fail) return Status::Error("injected failure");
    if (delay_ > 0ms) std::this_thread::sleep_for(delay_);
    ++calls;
    largest_chunk = std::max(largest_chunk, static_cast<int32_t>(tokens.size()));
    if (logits != nullptr) {
      logits->clear();
      for (size_t i = 0; i < tokens.size(); ++i) {
        const std::vector<float> row = Row(tokens[i], static_cast<int32_t>(held.size() + i), vocab_);
        logits->insert(logits->end(), row.begin(), row.end());
      }
    }
    fed.insert(fed.end(), tokens.begin(), tokens.end());
    held.insert(held.end(), tokens.begin(), tokens.end());
    return Status::Ok();
  }

  void Release() override { ++releases; }

  std::vector<int32_t> held, fed;
  int32_t calls = 0, largest_chunk = 0, releases = 0;
  bool fail = false;

 private:
  int32_t vocab_, max_chunk_;
  std::chrono::milliseconds delay_;
};

// What a fast path that agrees with FakeScorer exactly would have recorded.
CanaryRecord ExactRecord(const std::vector<int32_t>& prompt, const std::vector<int32_t>& generated, int32_t vocab) {
  std::vector<int32_t> all = prompt;
  all.insert(all.end(), generated.begin(), generated.end());
  CanaryRecord r;
  for (size_t i = 0; i < generated.size(); ++i) {
    const int32_t pos = static_cast<int32_t>(prompt.size() + i) - 1;
    r.Record(FakeScorer::Row(all[pos], pos, vocab), generated[i]);
  }
  return r;
}

std::vector<int32_t> Tokens(int32_t n, int32_t seed, int32_t vocab) {
  std::vector<int32_t> t;
  for (int32_t i = 0; i < n; ++i) t.push_back((seed * 7 + i * 5) % vocab);
  return t;
}

struct CanaryUnderTest {
  explicit CanaryUnderTest(CanaryOptions options = {}, int32_t max_chunk = 1 << 20) {
    auto s = std::make_unique<FakeScorer>(8, max_chunk);
    scorer = s.get();
    auto c = QualityCanary::Create(std::move(s), &metrics, options);
    EXPECT_TRUE(c.ok()) << c.status().message();
    canary = std::move(c).value();
  }
  int32_t RunAll() {
    int32_t slices = 0;
    while (canary->has_work() && slices < 10000) {
      canary->RunSlice();
      ++slices;
    }
    return slices;
  }
  Metrics metrics;
  FakeScorer* scorer = nullptr;
  std::unique_ptr<QualityCanary> canary;
};

TEST(QualityCanaryTest, RejectsRatesOutsideZeroToOne) {
  Metrics m;
  for (double rate : {-0.1, 1.5, std::nan("")}) {
    CanaryOptions o;
    o.rate = rate;
    auto c = QualityCanary::Create(std::make_unique<FakeScorer>(), &m, o);
    ASSERT_FALSE(c.ok()) << rate;
    EXPECT_NE(c.status().message().find("canary rate"), std::string::npos);
  }
}

TEST(QualityCanaryTest, SelectsTheRequestedShareDeterministically) {
  for (double rate : {0.0, 0.02, 0.25, 1.0}) {
    Metrics m;
    CanaryOptions o;
    o.rate = rate;
    auto c = QualityCanary::Create(std::make_unique<FakeScorer>(), &m, o);
    ASSERT_TRUE(c.ok());
    int picked = 0;
    for (int i = 0; i < 200; ++i) picked += (*c)->Select();
    EXPECT_EQ(picked, static_cast<int>(std::lround(200 * rate))) << rate;
  }
}

// Teacher forcing in slices: prompt chunks without logits up to the row that predicts the
// first generated token, then rows with logits; the last generated token is never fed.
TEST(QualityCanaryTest, ScoresTeacherForcedInBoundedSlices) {
  CanaryOptions o;
  o.rate = 1;
  o.slice_tokens = 4;
  o.score_tokens = 3;
  CanaryUnderTest t(o);
  const std::vector<int32_t> prompt = Tokens(20, 1, 8), gen = Tokens(10, 2, 8);
  t.canary->Submit(prompt, ExactRecord(prompt, gen, 8));
  EXPECT_EQ(t.metrics.Get("parley_canary_pending"), 1);
  // 19 prompt positions in 4+4+4+4+3, then 10 scored rows in 3+3+3+1.
  EXPECT_EQ(t.RunAll(), 9);
  EXPECT_EQ(t.scorer->largest_chunk, 4);
  EXPECT_EQ(t.scorer->releases, 1);  // once the queue is empty
  std::vector<int32_t> want = prompt;
  want.insert(want.end(), gen.begin(), gen.end() - 1);
  EXPECT_EQ(t.scorer->fed, want);
  EXPECT_EQ(t.canary->requests_scored(), 1);
  EXPECT_EQ(t.canary->stats().positions(), 10);
  EXPECT_EQ(t.canary->stats().mean_abs_delta(), 0.0);
  EXPECT_EQ(t.canary->stats().disagreements(), 0);
  EXPECT_EQ(t.metrics.Get("parley_canary_requests_total"), 1);
  EXPECT_EQ(t.metrics.Get("parley_canary_tokens_total"), 10);
  EXPECT_EQ(t.metrics.Get("parley_canary_logprob_abs_delta"), 10);  // histogram count
  EXPECT_EQ(t.metrics.Get("parley_canary_pending"), 0);

  // The next request of the conversation resumes after the shared prefix.
  std::vector<int32_t> prompt2 = prompt;
  prompt2.insert(prompt2.end(), gen.begin(), gen.end());
  prompt2.push_back(3);
  const std::vector<int32_t> gen2 = Tokens(5, 3, 8);
  t.scorer->fed.clear();
  t.canary->Submit(prompt2, ExactRecord(prompt2, gen2, 8));
  t.RunAll();
  // The scorer held prompt + gen[..-1] (29 tokens); it computes from there.
  EXPECT_EQ(t.scorer->fed.size(), prompt2.size() + gen2.size() - 1 - 29);
  EXPECT_EQ(t.canary->stats().positions(), 15);
  EXPECT_EQ(t.canary->stats().mean_abs_delta(), 0.0);
}

TEST(QualityCanaryTest, MeasuresTheFastPathsDifferences) {
  CanaryUnderTest t(CanaryOptions{1.0, 8, 3});
  const std::vector<int32_t> prompt = Tokens(7, 4, 8), gen = Tokens(12, 5, 8);
  CanaryRecord exact = ExactRecord(prompt, gen, 8);
  // A fast path 0.5 nats off on every chosen token, and with another top-1 on every third.
  CanaryRecord fast = exact;
  for (size_t i = 0; i < gen.size(); ++i) {
    fast.logprobs[i] += (i % 2 == 0 ? 0.5f : -0.5f);
    if (i % 3 == 0) fast.argmax[i] = (fast.argmax[i] + 1) % 8;
  }
  t.canary->Submit(prompt, fast);
  t.RunAll();
  EXPECT_EQ(t.canary->stats().positions(), 12);
  EXPECT_NEAR(t.canary->stats().mean_abs_delta(), 0.5, 1e-6);
  EXPECT_NEAR(t.canary->stats().Quantile(0.99), 0.5, 1e-6);
  EXPECT_DOUBLE_EQ(t.canary->stats().disagreement_rate(), 4.0 / 12);
  EXPECT_NEAR(t.metrics.Get("parley_canary_logprob_abs_delta_mean"), 0.5, 1e-6);
  EXPECT_NEAR(t.metrics.Get("parley_canary_logprob_abs_delta_p99"), 0.5, 1e-6);
  EXPECT_NEAR(t.metrics.Get("parley_canary_top1_disagreement_ratio"), 1.0 / 3, 1e-9);
  EXPECT_EQ(t.metrics.Get("parley_canary_top1_disagreements_total"), 4);
  const std::string text = t.metrics.Render();
  EXPECT_NE(text.find("parley_canary_top1_disagreement_ratio 0.333333\n"), std::string::npos) << text;
}

TEST(QualityCanaryTest, DropsJobsBeyondTheQueueAndOnErrors) {
  CanaryOptions o;
  o.max_pending = 2;
  CanaryUnderTest t(o);
  const std::vector<int32_t> prompt = Tokens(5, 1, 8), gen = Tokens(3, 2, 8);
  for (int i = 0; i < 5; ++i) t.canary->Submit(prompt, ExactRecord(prompt, gen, 8));
  t.canary->Submit(prompt, CanaryRecord{});  // nothing generated: nothing to score, not a drop
  EXPECT_EQ(t.canary->dropped(), 3);
  EXPECT_EQ(t.metrics.Get("parley_canary_dropped_total", "reason=\"queue_full\""), 3);
  t.scorer->fail = true;
  t.canary->RunSlice();
  EXPECT_EQ(t.metrics.Get("parley_canary_dropped_total", "reason=\"error\""), 1);
  t.scorer->fail = false;
  t.RunAll();
  EXPECT_EQ(t.canary->requests_scored(), 1);
  EXPECT_EQ(t.metrics.Get("parley_canary_pending"), 0);
}

// --- The exact scorer and the engine, on a tiny Gemma-shaped model ---

std::unique_ptr<Model> LoadTiny(bool int8_weights) {
  testing::TinyModelSpec spec = testing::SmallGemmaSpec(4, 24);
  spec.context = 512;
  const std::string path = testing::TempModelPath("canary");
  EXPECT_TRUE(testing::WriteTinyModel(spec, path).ok());
  ModelLoadOptions options;
  options.int8_weights = int8_weights;
  options.threads = 2;
  auto m = Model::Load(path, nullptr, options);
  std::remove(path.c_str());
  EXPECT_TRUE(m.ok()) << m.status().message();
  return m.ok() ? std::move(m).value() : nullptr;
}

// The exact scorer computes a sequence in chunks, resumes after a shared prefix, and forgets
// it on Release, always giving the logits of one whole-sequence forward pass.
TEST(ExactScorerTest, ChunksResumeAndReleaseGiveTheSameLogits) {
  std::unique_ptr<Model> model = LoadTiny(/*int8_weights=*/true);
  ASSERT_NE(model, nullptr);
  ThreadPool pool(2);
  auto made = ExactScorer::Create(*model, &pool, 256, 16);
  ASSERT_TRUE(made.ok()) << made.status().message();
  ExactScorer& scorer = **made;
  EXPECT_EQ(scorer.max_chunk(), 16);
  std::vector<int32_t> tokens;
  for (int32_t i = 0; i < 40; ++i) tokens.push_back(6 + (i * 37) % 271);

  // The reference: the same file at its own types, f32 activations, all at once.
  auto gguf_model = LoadTiny(/*int8_weights=*/false);
  ASSERT_NE(gguf_model, nullptr);
  Transformer reference(gguf_model->config(), gguf_model->weights(), &pool);
  SequenceKv kv(gguf_model->config(), 256);
  std::vector<float> want;
  ASSERT_TRUE(reference.Forward(tokens, &kv, LogitRows::kAll, &want).ok());
  const size_t vocab = static_cast<size_t>(scorer.vocab_size());
  ASSERT_EQ(want.size(), tokens.size() * vocab);

  auto check_rows = [&](int32_t from, const std::vector<float>& got) {
    ASSERT_EQ(got.size() % vocab, 0u);
    for (size_t i = 0; i < got.size(); ++i) {
      ASSERT_EQ(got[i], want[from * vocab + i]) << "position " << from + i / vocab;
    }
  };
  std::vector<float> got;
  EXPECT_EQ(scorer.Resume(std::span<const int32_t>(tokens.data(), 20)), 0);
  ASSERT_TRUE(scorer.Forward(std::span<const int32_t>(tokens.data(), 16), nullptr).ok());
  ASSERT_TRUE(scorer.Forward(std::span<const int32_t>(tokens.data() + 16, 12), &got).ok());
  check_rows(16, got);
  // Another sequence sharing the first 24 tokens resumes there.
  EXPECT_EQ(scorer.Resume(std::span<const int32_t>(tokens.data(), 24)), 24);
  ASSERT_TRUE(scorer.Forward(std::span<const int32_t>(tokens.data() + 24, 16), &got).ok());
  check_rows(24, got);
  EXPECT_FALSE(scorer.Forward(std::span<const int32_t>(tokens.data(), 17), &got).ok());  // past max_chunk
  scorer.Release();
  EXPECT_EQ(scorer.Resume(tokens), 0);
  ASSERT_TRUE(scorer.Forward(std::span<const int32_t>(tokens.data(), 8), &got).ok());
  check_rows(0, got);
}

class CanaryEngineTest : public ::testing::Test {
 protected:
  // Serves the tiny model with int8 weights or not, the KV cache in `dtype`, and a canary
  // of rate 1 whose scorer is the exact path (or `scorer`, when given).
  void Start(bool int8_weights, KvDtype dtype, std::unique_ptr<CanaryScorer> scorer = nullptr,
             CanaryOptions co = CanaryOptions{1.0, 64, 64}) {
    model_ = LoadTiny(int8_weights);
    ASSERT_NE(model_, nullptr);
    ASSERT_EQ(model_->converted_weights(), int8_weights);
    auto tok = Tokenizer::FromGguf(model_->gguf());
    ASSERT_TRUE(tok.ok()) << tok.status().message();
    tokenizer_ = std::move(tok).value();
    runner_ = std::make_unique<TransformerRunner>(*model_, 2);
    EngineOptions eo;
    eo.max_context = 512;
    eo.max_batch_tokens = 128;
    eo.kv.dtype = dtype;
    eo.kv.arena_bytes = 32 << 20;
    if (scorer == nullptr) {
      auto exact = ExactScorer::Create(*model_, runner_->pool(), eo.max_context, co.slice_tokens);
      ASSERT_TRUE(exact.ok()) << exact.status().message();
      scorer = std::move(exact).value();
    }
    auto c = QualityCanary::Create(std::move(scorer), &metrics_, co);
    ASSERT_TRUE(c.ok()) << c.status().message();
    canary_ = std::move(c).value();
    eo.canary = canary_.get();
    auto e = Engine::Create(runner_.get(), *tokenizer_, eo);
    ASSERT_TRUE(e.ok()) << e.status().message();
    engine_ = std::move(e).value();
  }

  // Runs a request to its end; returns the tokens generated.
  int32_t Generate(int32_t prompt_len, int32_t max_tokens, uint32_t seed, float temperature) {
    GenerationRequest r;
    for (int32_t i = 0; i < prompt_len; ++i) r.prompt.push_back(6 + (seed * 31 + i * 17) % 271);
    r.max_tokens = max_tokens;
    r.ignore_eos = true;
    r.sampling.temperature = temperature;
    r.sampling.seed = seed;
    auto s = engine_->Submit(std::move(r));
    EXPECT_TRUE(s.ok()) << s.status().message();
    if (!s.ok()) return 0;
    int32_t n = 0;
    for (int i = 0; i < 10000; ++i) {
      auto ev = (*s)->Next(60s);
      if (!ev) {
        ADD_FAILURE() << "no event within 10 s";
        break;
      }
      n += static_cast<int32_t>(ev->tokens.size());
      if (ev->finish != FinishReason::kNone) break;
    }
    return n;
  }

  // Waits (at most 60 s) until the canary has scored `requests` requests.
  void WaitForCanary(int64_t requests) {
    const auto deadline = std::chrono::steady_clock::now() + 60s;
    while (metrics_.Get("parley_canary_requests_total") < requests && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(5ms);
    }
    ASSERT_EQ(metrics_.Get("parley_canary_requests_total"), requests);
  }

  // A few greedy and sampled requests of different lengths; returns the tokens generated.
  // The tiny model mostly repeats its input token with a logit tens of nats above the rest
  // (its residual stream is dominated by the scaled embedding), so greedy tokens have a
  // logprob of ~0 on any path: a high temperature picks tokens whose logprob shows the
  // differences.
  int64_t RunRequests() {
    int64_t tokens = 0;
    for (uint32_t i = 0; i < 6; ++i) tokens += Generate(5 + 23 * i, 12, i, i % 3 == 0 ? 0.0f : 30.0f);
    WaitForCanary(6);
    return tokens;
  }

  void Report(const char* what) {
    std::printf("%s: %.0f tokens scored, mean |delta logprob| %.3g, p99 %.3g, top-1 disagreement %.3g\n", what,
                metrics_.Get("parley_canary_tokens_total"), metrics_.Get("parley_canary_logprob_abs_delta_mean"),
                metrics_.Get("parley_canary_logprob_abs_delta_p99"),
                metrics_.Get("parley_canary_top1_disagreement_ratio"));
  }

  // Destroyed in reverse: the engine first, then the canary, the runner (its pool) and the model.
  std::unique_ptr<Model> model_;
  std::unique_ptr<Tokenizer> tokenizer_;
  std::unique_ptr<TransformerRunner> runner_;
  Metrics metrics_;
  std::unique_ptr<QualityCanary> canary_;
  std::unique_ptr<Engine> engine_;
};

// Serving the exact path itself: the canary must read (next to) nothing.
TEST_F(CanaryEngineTest, ReadsZeroWhenTheFastPathIsTheExactPath) {
  Start(/*int8_weights=*/false, KvDtype::kF32);
  const int64_t tokens = RunRequests();
  Report("exact vs exact");
  EXPECT_EQ(metrics_.Get("parley_canary_tokens_total"), tokens);
  EXPECT_LT(metrics_.Get("parley_canary_logprob_abs_delta_mean"), 1e-4);
  EXPECT_LT(metrics_.Get("parley_canary_logprob_abs_delta_p99"), 1e-4);
  EXPECT_EQ(metrics_.Get("parley_canary_top1_disagreements_total"), 0);
  EXPECT_EQ(metrics_.Get("parley_canary_dropped_total", "reason=\"queue_full\""), 0);
}

// int8 weights (W8A8) in serving: the canary sees the difference.
TEST_F(CanaryEngineTest, SeesInt8Weights) {
  Start(/*int8_weights=*/true, KvDtype::kF32);
  const int64_t tokens = RunRequests();
  Report("int8 weights vs exact");
  EXPECT_EQ(metrics_.Get("parley_canary_tokens_total"), tokens);
  EXPECT_GT(metrics_.Get("parley_canary_logprob_abs_delta_mean"), 1e-4);
  EXPECT_GT(metrics_.Get("parley_canary_logprob_abs_delta_p99"), metrics_.Get("parley_canary_logprob_abs_delta_mean"));
}

// An int8 KV cache alone: also seen.
TEST_F(CanaryEngineTest, SeesInt8Kv) {
  Start(/*int8_weights=*/false, KvDtype::kI8);
  RunRequests();
  Report("int8 KV vs exact");
  EXPECT_GT(metrics_.Get("parley_canary_logprob_abs_delta_mean"), 1e-5);
}

// Canary work runs in idle steps a slice at a time: a request that arrives while a long job
// is being scored is served before the job ends (each slice of the slow scorer takes 10 ms,
// the job ~60 slices).
TEST_F(CanaryEngineTest, NewRequestsDoNotWaitForTheCanary) {
  Start(/*int8_weights=*/false, KvDtype::kF32, std::make_unique<FakeScorer>(277, 1, 10ms), CanaryOptions{1.0, 8, 1});
  ASSERT_EQ(Generate(40, 20, 1, 0.0f), 20);
  ASSERT_EQ(Generate(10, 8, 2, 0.0f), 8);
  EXPECT_EQ(metrics_.Get("parley_canary_requests_total"), 0);
  EXPECT_GE(metrics_.Get("parley_canary_pending"), 1);
  WaitForCanary(2);
}

}  // namespace
}  // namespace parley
