// Generator on tiny models: a follow-up turn reuses the cached prefix (computes only the
// new tokens) and gives the same tokens as computing everything from scratch.
#include "generator.h"

#include <gtest/gtest.h>

#include "gguf/testing/tiny_model.h"

namespace parley {
namespace {

struct Loaded {
  std::unique_ptr<Model> model;
  std::unique_ptr<Tokenizer> tokenizer;
};

Loaded LoadTiny(const std::string& arch, int32_t window) {
  testing::TinyModelSpec spec;
  spec.arch = arch;
  spec.window = window;
  spec.swa_period = 2;
  if (arch == "gemma3") spec.kv_heads = 1;
  std::string path = testing::TempModelPath("gen_" + arch);
  EXPECT_TRUE(testing::WriteTinyModel(spec, path).ok());
  Loaded l;
  auto m = Model::Load(path);
  EXPECT_TRUE(m.ok()) << m.status().message();
  l.model = std::move(m).value();
  auto t = Tokenizer::FromGguf(l.model->gguf());
  EXPECT_TRUE(t.ok()) << t.status().message();
  l.tokenizer = std::move(t).value();
  std::remove(path.c_str());
  return l;
}

std::vector<int32_t> Greedy(Generator& g, const std::vector<int32_t>& prompt, int n, GenerationStats* stats) {
  std::vector<int32_t> out;
  auto s = g.Generate(prompt, n, SamplingParams{}, /*ignore_eog=*/true, [&](int32_t id) {
    out.push_back(id);
    return true;
  });
  EXPECT_TRUE(s.ok()) << s.status().message();
  if (s.ok()) *stats = *s;
  return out;
}

class GeneratorTest : public ::testing::TestWithParam<std::pair<const char*, int>> {};

TEST_P(GeneratorTest, SecondTurnComputesOnlyNewTokensAndMatchesFresh) {
  Loaded l = LoadTiny(GetParam().first, GetParam().second);
  Generator cached(*l.model, *l.tokenizer, 256, 2);
  cached.set_batch_tokens(7);  // several prompt batches, crossing the window
  std::vector<int32_t> turn1 = l.tokenizer->Encode("the thin hen in the inn, then the end", true, true);
  GenerationStats s1, s2, s3;
  std::vector<int32_t> reply = Greedy(cached, turn1, 12, &s1);
  EXPECT_EQ(s1.computed_prompt, static_cast<int32_t>(turn1.size()));

  // Turn 2 = turn 1 + its reply + a new message.
  std::vector<int32_t> turn2 = turn1;
  turn2.insert(turn2.end(), reply.begin(), reply.end());
  std::vector<int32_t> more = l.tokenizer->Encode(" and then the thin hen", false, true);
  turn2.insert(turn2.end(), more.begin(), more.end());
  std::vector<int32_t> a = Greedy(cached, turn2, 10, &s2);
  // Cached: everything but the last reply token (never fed back) and the new message.
  EXPECT_EQ(s2.computed_prompt, static_cast<int32_t>(more.size()) + 1);

  Generator fresh(*l.model, *l.tokenizer, 256, 1);
  std::vector<int32_t> b = Greedy(fresh, turn2, 10, &s3);
  EXPECT_EQ(s3.computed_prompt, static_cast<int32_t>(turn2.size()));
  EXPECT_EQ(a, b);
}

TEST_P(GeneratorTest, PromptLongerThanContextIsAnError) {
  Loaded l = LoadTiny(GetParam().first, GetParam().second);
  Generator g(*l.model, *l.tokenizer, 16, 1);
  std::vector<int32_t> prompt(40, 5);
  auto s = g.Generate(prompt, 4, SamplingParams{}, true, [](int32_t) { return true; });
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("context"), std::string::npos) << s.status().message();
}

INSTANTIATE_TEST_SUITE_P(Archs, GeneratorTest,
                         ::testing::Values(std::make_pair("llama", 0), std::make_pair("gemma3", 6)),
                         [](const auto& info) { return std::string(info.param.first); });

}  // namespace
}  // namespace parley
