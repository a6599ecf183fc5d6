// Golden tests against llama.cpp on the two real models: for each recorded prompt, the
// top-10 logits at the last prompt position and the 32-token greedy continuation, as
// recorded by scripts/golden/make_golden.py (llama-cpp-python). Skips when the model
// files have not been fetched (scripts/fetch_models.py).
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "base/thread_pool.h"
#include "model/model.h"
#include "model/sequence_kv.h"
#include "model/transformer.h"
#include "sampling/sampler.h"

namespace parley {
namespace {

namespace fs = std::filesystem;

struct GoldenModel {
  const char* golden;  // tests/golden/<name>.json
  const char* file;    // models/<file>
};

std::string SourceDir() {
  const char* d = std::getenv("PARLEY_SOURCE_DIR");
  return d ? d : ".";
}

class GoldenModelTest : public ::testing::TestWithParam<GoldenModel> {};

TEST_P(GoldenModelTest, LogitsAndGreedyMatchLlamaCpp) {
  const fs::path model_path = fs::path(SourceDir()) / "models" / GetParam().file;
  const fs::path golden_path = fs::path(SourceDir()) / "tests" / "golden" / GetParam().golden;
  if (!fs::exists(model_path)) GTEST_SKIP() << model_path << " not fetched (scripts/fetch_models.py)";
  ASSERT_TRUE(fs::exists(golden_path)) << golden_path;
  nlohmann::json golden = nlohmann::json::parse(std::ifstream(golden_path));

  auto model = Model::Load(model_path.string());
  ASSERT_TRUE(model.ok()) << model.status().message();
  const int32_t vocab = (*model)->config().vocab_size;
  ThreadPool pool(2);
  Transformer tf((*model)->config(), (*model)->weights(), &pool);

  int prompts = 0, greedy_exact = 0;
  float worst_delta = 0.0f;
  for (const auto& p : golden["prompts"]) {
    ++prompts;
    std::vector<int32_t> ids = p["ids"].get<std::vector<int32_t>>();
    SequenceKv kv((*model)->config(), static_cast<int32_t>(ids.size()) + 40);
    std::vector<float> logits;
    ASSERT_TRUE(tf.Forward(ids, &kv, LogitRows::kLast, &logits).ok());
    ASSERT_EQ(logits.size(), static_cast<size_t>(vocab));

    // Same top-1 token; every recorded top-10 logit within 0.25.
    const auto& top10 = p["top10"];
    const int32_t want_top1 = top10[0][0].get<int32_t>();
    EXPECT_EQ(ArgMax(logits), want_top1) << "prompt: " << p["text"];
    for (const auto& e : top10) {
      float delta = std::abs(logits[e[0].get<int32_t>()] - e[1].get<float>());
      worst_delta = std::max(worst_delta, delta);
      EXPECT_LE(delta, 0.25f) << "token " << e[0] << " prompt: " << p["text"];
    }

    // Greedy continuation; where it diverges, llama.cpp's and our token must be a near tie.
    std::vector<int32_t> want = p["greedy"].get<std::vector<int32_t>>();
    bool exact = true;
    for (size_t i = 0; i < want.size(); ++i) {
      int32_t got = ArgMax(logits);
      if (got != want[i]) {
        float gap = logits[got] - logits[want[i]];
        std::printf("  divergence in %s prompt %d at position %zu: ours %d (%.4f) vs llama.cpp %d (%.4f), gap %.4f\n",
                    GetParam().golden, prompts, i, got, logits[got], want[i], logits[want[i]], gap);
        EXPECT_LT(gap, 0.1f) << "greedy divergence is not a near tie";
        exact = false;
        break;
      }
      if (i + 1 < want.size()) {
        std::vector<int32_t> next = {got};
        ASSERT_TRUE(tf.Forward(next, &kv, LogitRows::kLast, &logits).ok());
      }
    }
    greedy_exact += exact;
  }
  std::printf("%s: %d prompts, greedy identical on %d, max |dlogit| over top-10 = %.4f\n",
              GetParam().golden, prompts, greedy_exact, worst_delta);
  EXPECT_GE(prompts, 5);
  EXPECT_GE(greedy_exact, prompts - 1) << "greedy continuations must match on all but one prompt";
}

INSTANTIATE_TEST_SUITE_P(RealModels, GoldenModelTest,
                         ::testing::Values(GoldenModel{"gemma3-270m.json", "gemma-3-270m-q4_k_m.gguf"},
                                           GoldenModel{"smollm2-135m.json", "SmolLM2-135M-Instruct.Q4_1.gguf"}),
                         [](const auto& info) {
                           return std::string(info.index == 0 ? "Gemma3_270M" : "SmolLM2_135M");
                         });

}  // namespace
}  // namespace parley
