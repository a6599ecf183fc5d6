// Speculative decoding is lossless (issue #17): through the whole engine on real forward
// passes, a request's tokens and logprobs are the same with speculation off and on — greedy
// and seeded sampling, drafts from the history, the shared pool and a prediction (right,
// partly wrong, or wrong), batched with other requests, with window layers whose window
// moves during verify steps — and the scheduler, KV pages and prefix cache pass their
// integrity check after every step (EngineOptions::check_integrity).
// Tiny models always; SmolLM2-135M and Gemma 3 270M when models/ has them.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <memory>

#include "engine/engine.h"
#include "engine/transformer_runner.h"
#include "gguf/testing/tiny_model.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"

namespace parley {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

struct Output {
  std::vector<int32_t> tokens;
  std::vector<TokenLogprob> logprobs;
  Usage usage;
  FinishReason finish = FinishReason::kNone;
};

Output Drain(RequestStream* stream) {
  Output o;
  for (;;) {
    auto ev = stream->Next(60s);
    if (!ev) {
      ADD_FAILURE() << "no event within 60 s";
      return o;
    }
    o.tokens.insert(o.tokens.end(), ev->tokens.begin(), ev->tokens.end());
    o.logprobs.insert(o.logprobs.end(), ev->logprobs.begin(), ev->logprobs.end());
    if (ev->finish != FinishReason::kNone) {
      o.usage = ev->usage;
      o.finish = ev->finish;
      return o;
    }
  }
}

struct Loaded {
  std::unique_ptr<Model> model;
  std::unique_ptr<Tokenizer> tokenizer;
  std::unique_ptr<TransformerRunner> runner;
  KvDtype kv = KvDtype::kF32;
};

Loaded Load(const std::string& path, bool int8_weights) {
  Loaded l;
  ModelLoadOptions options;
  options.int8_weights = int8_weights;
  options.threads = 2;
  auto m = Model::Load(path, nullptr, options);
  EXPECT_TRUE(m.ok()) << m.status().message();
  if (!m.ok()) return l;
  l.model = std::move(m).value();
  auto t = Tokenizer::FromGguf(l.model->gguf());
  EXPECT_TRUE(t.ok());
  if (t.ok()) l.tokenizer = std::move(t).value();
  l.runner = std::make_unique<TransformerRunner>(*l.model, 2);
  l.kv = int8_weights ? KvDtype::kI8 : KvDtype::kF32;  // the fast path's pair
  return l;
}

Loaded LoadTiny(const testing::TinyModelSpec& spec) {
  const std::string path = testing::TempModelPath("spec_" + spec.arch);
  EXPECT_TRUE(testing::WriteTinyModel(spec, path).ok());
  Loaded l = Load(path, false);
  std::remove(path.c_str());
  return l;
}

struct Case {
  std::vector<int32_t> prompt;
  std::vector<int32_t> prediction;
  float temperature = 0;  // 0: greedy
  uint64_t seed = 0;
};

// Runs every case at once (batched) in a fresh engine; returns the outputs and the engine's
// speculation counts.
std::vector<Output> RunAll(const Loaded& l, const std::vector<Case>& cases, int32_t max_tokens, SpecMode spec,
                           double price, EngineStats::Spec* spec_stats = nullptr) {
  EngineOptions opts;
  opts.max_context = 512;
  opts.max_seqs = 8;
  opts.max_batch_tokens = 64;
  opts.kv.page_size = 16;
  opts.kv.dtype = l.kv;
  opts.spec = spec;
  opts.spec_max_draft = 8;
  opts.spec_fixed_price = price;
  opts.check_integrity = true;
  auto engine = Engine::Create(l.runner.get(), *l.tokenizer, opts);
  EXPECT_TRUE(engine.ok()) << engine.status().message();
  std::vector<std::shared_ptr<RequestStream>> streams;
  for (const Case& c : cases) {
    GenerationRequest r;
    r.prompt = c.prompt;
    r.prediction = c.prediction;
    r.max_tokens = max_tokens;
    r.ignore_eos = true;
    r.logprobs = 2;
    r.sampling.temperature = c.temperature;
    r.sampling.top_k = 0;
    r.sampling.top_p = 1;
    r.sampling.min_p = 0;
    r.sampling.seed = c.seed;
    auto s = (*engine)->Submit(std::move(r));
    EXPECT_TRUE(s.ok()) << s.status().message();
    if (s.ok()) streams.push_back(*s);
  }
  std::vector<Output> out;
  for (auto& s : streams) out.push_back(Drain(s.get()));
  if (spec_stats != nullptr) *spec_stats = (*engine)->Stats().spec;
  return out;
}

void ExpectSameOutput(const Output& want, const Output& got, const std::string& what) {
  EXPECT_EQ(want.tokens, got.tokens) << what;
  ASSERT_EQ(want.logprobs.size(), got.logprobs.size()) << what;
  for (size_t i = 0; i < want.logprobs.size(); ++i) {
    // Bit-identical: each row is the same computation whatever else is in the batch.
    EXPECT_EQ(want.logprobs[i].logprob, got.logprobs[i].logprob) << what << ", token " << i;
    EXPECT_EQ(want.logprobs[i].top, got.logprobs[i].top) << what << ", token " << i;
  }
  EXPECT_EQ(want.finish, got.finish) << what;
  EXPECT_EQ(want.usage.completion_tokens, got.usage.completion_tokens) << what;
}

std::vector<int32_t> Pseudo(int32_t vocab, int32_t n, uint32_t seed) {
  std::vector<int32_t> t;
  for (int32_t i = 0; i < n; ++i) {
    seed = seed * 1664525u + 1013904223u;
    t.push_back(static_cast<int32_t>((seed >> 8) % vocab));
  }
  return t;
}

// The checks, for any model: greedy with history drafts; predictions that are right, right
// but for a changed stretch, and wrong; seeded sampling.
void CheckLossless(const Loaded& l, int32_t max_tokens, const std::vector<std::vector<int32_t>>& prompts) {
  const int32_t vocab = l.runner->vocab_size();
  std::vector<Case> plain;
  for (const auto& p : prompts) plain.push_back({p, {}, 0, 0});
  const std::vector<Output> want = RunAll(l, plain, max_tokens, SpecMode::kOff, -1);

  // History and pool drafts at any price (0: every draft the sources have, up to 8).
  for (double price : {0.0, 0.3}) {
    EngineStats::Spec st;
    const std::vector<Output> got = RunAll(l, plain, max_tokens, SpecMode::kNgram, price, &st);
    for (size_t i = 0; i < plain.size(); ++i) {
      ExpectSameOutput(want[i], got[i], "history drafts #" + std::to_string(i) + " at price " + std::to_string(price));
    }
    std::printf("history drafts at price %.1f: %lld verifications, %lld drafted, %lld accepted\n", price,
                static_cast<long long>(st.verifications),
                static_cast<long long>(st.drafted[static_cast<int>(DraftSource::kHistory)] +
                                       st.drafted[static_cast<int>(DraftSource::kPool)]),
                static_cast<long long>(st.accepted[static_cast<int>(DraftSource::kHistory)] +
                                       st.accepted[static_cast<int>(DraftSource::kPool)]));
  }

  // Predictions: the exact reply; the reply with a stretch replaced; noise.
  std::vector<Case> predicted;
  for (size_t i = 0; i < prompts.size(); ++i) {
    std::vector<int32_t> edited = want[i].tokens;
    const size_t mid = edited.size() / 3;
    for (size_t j = mid; j < mid + 4 && j < edited.size(); ++j) edited[j] = (edited[j] + 7) % vocab;
    predicted.push_back({prompts[i], want[i].tokens, 0, 0});
    predicted.push_back({prompts[i], edited, 0, 0});
    predicted.push_back({prompts[i], Pseudo(vocab, max_tokens, 99 + static_cast<uint32_t>(i)), 0, 0});
  }
  EngineStats::Spec st;
  const std::vector<Output> got = RunAll(l, predicted, max_tokens, SpecMode::kPrediction, 0.0, &st);
  for (size_t i = 0; i < predicted.size(); ++i) {
    ExpectSameOutput(want[i / 3], got[i], "prediction kind " + std::to_string(i % 3) + " #" + std::to_string(i / 3));
  }
  for (size_t i = 0; i < prompts.size(); ++i) {
    const Usage& exact = got[3 * i].usage;
    // The exact reply: every token was the prediction's next one, no draft was rejected, and
    // all but the first token and one per verify step came from drafts.
    EXPECT_EQ(exact.prediction_accepted, max_tokens) << i;
    EXPECT_EQ(exact.prediction_rejected, 0) << i;
    EXPECT_GE(exact.draft_accepted, max_tokens / 2) << i;
    const Usage& edited = got[3 * i + 1].usage;
    EXPECT_GE(edited.prediction_accepted, max_tokens - 8) << i << ": realigned after the edit";
    EXPECT_GT(edited.prediction_rejected, 0) << i;
  }
  const int64_t produced = st.verified_tokens, steps = st.verifications;
  std::printf("predictions: %lld verifications produced %lld tokens (%.2f per verification)\n",
              static_cast<long long>(steps), static_cast<long long>(produced),
              steps > 0 ? static_cast<double>(produced) / steps : 0.0);

  // Seeded sampling at temperature 1: each token is the target's own sample, drawn in the
  // same order from the same generator, so a seed reproduces exactly — the distribution of
  // outputs is the one without speculation.
  std::vector<Case> sampled;
  for (uint64_t seed = 1; seed <= 4; ++seed) {
    sampled.push_back({prompts[seed % prompts.size()], want[seed % prompts.size()].tokens, 1.0f, seed});
  }
  const std::vector<Output> off = RunAll(l, sampled, max_tokens, SpecMode::kOff, -1);
  const std::vector<Output> on = RunAll(l, sampled, max_tokens, SpecMode::kNgram, 0.0);
  for (size_t i = 0; i < sampled.size(); ++i) ExpectSameOutput(off[i], on[i], "seed " + std::to_string(i + 1));
}

TEST(SpecInvarianceTest, TinyLlama) {
  testing::TinyModelSpec spec;
  spec.arch = "llama";
  spec.context = 512;
  Loaded l = LoadTiny(spec);
  ASSERT_NE(l.runner, nullptr);
  const int32_t v = l.runner->vocab_size();
  CheckLossless(l, 40, {Pseudo(v, 5, 1), Pseudo(v, 30, 2), Pseudo(v, 70, 3)});
}

// Windows of 24 tokens on 5 of 6 layers: a reply of 60 tokens moves every window through
// verify steps of up to 9 rows, and rejected drafts roll back across page and window edges.
TEST(SpecInvarianceTest, TinyGemmaWithWindows) {
  testing::TinyModelSpec spec = testing::SmallGemmaSpec(6, 24);
  spec.context = 512;
  Loaded l = LoadTiny(spec);
  ASSERT_NE(l.runner, nullptr);
  const int32_t v = l.runner->vocab_size();
  CheckLossless(l, 60, {Pseudo(v, 7, 4), Pseudo(v, 20, 5), Pseudo(v, 45, 6)});
}

fs::path ModelPath(const char* file) {
  const char* d = std::getenv("PARLEY_SOURCE_DIR");
  return fs::path(d ? d : ".") / "models" / file;
}

TEST(SpecInvarianceTest, SmolLM2Int8) {
  const fs::path path = ModelPath("SmolLM2-135M-Instruct.Q4_1.gguf");
  if (!fs::exists(path)) GTEST_SKIP() << path << " not fetched (scripts/fetch_models.py)";
  Loaded l = Load(path.string(), /*int8_weights=*/true);
  ASSERT_NE(l.runner, nullptr);
  CheckLossless(l, 24, {l.tokenizer->Encode("The rules of the house are simple: first,", false, false),
                        l.tokenizer->Encode("1, 2, 3, 4, 5, 6,", false, false)});
}

TEST(SpecInvarianceTest, Gemma3_270M) {
  const fs::path path = ModelPath("gemma-3-270m-q4_k_m.gguf");
  if (!fs::exists(path)) GTEST_SKIP() << path << " not fetched (scripts/fetch_models.py)";
  Loaded l = Load(path.string(), /*int8_weights=*/false);
  ASSERT_NE(l.runner, nullptr);
  CheckLossless(l, 16, {l.tokenizer->Encode("Once upon a time, there was a", true, false),
                        l.tokenizer->Encode("A B C D E F G", true, false)});
}

}  // namespace
}  // namespace parley
