#include "sampling/sampler.h"

#include <gtest/gtest.h>

#include <map>

namespace parley {
namespace {

TEST(SamplerTest, GreedyPicksArgMaxLowestIndexOnTies) {
  Sampler s(SamplingParams{});
  std::vector<float> logits = {0.1f, 3.0f, -1.0f, 3.0f};
  EXPECT_EQ(s.Sample(logits), 1);
}

TEST(SamplerTest, SameSeedSameTokens) {
  std::vector<float> logits(100);
  for (int i = 0; i < 100; ++i) logits[i] = static_cast<float>((i * 37) % 11) * 0.3f;
  SamplingParams p{.temperature = 1.0f, .top_k = 0, .top_p = 1.0f, .seed = 42};
  Sampler a(p), b(p);
  std::vector<int32_t> ta, tb;
  for (int i = 0; i < 50; ++i) {
    ta.push_back(a.Sample(logits));
    tb.push_back(b.Sample(logits));
  }
  EXPECT_EQ(ta, tb);
  p.seed = 43;
  Sampler c(p);
  std::vector<int32_t> tc;
  for (int i = 0; i < 50; ++i) tc.push_back(c.Sample(logits));
  EXPECT_NE(ta, tc);
}

TEST(SamplerTest, TopKRestrictsToKBest) {
  std::vector<float> logits = {5.0f, 4.0f, 3.0f, 2.0f, 1.0f};
  Sampler s(SamplingParams{.temperature = 10.0f, .top_k = 2, .top_p = 1.0f, .seed = 1});
  for (int i = 0; i < 500; ++i) EXPECT_LT(s.Sample(logits), 2);
}

TEST(SamplerTest, TopPKeepsSmallestNucleus) {
  // probs ~ 0.665, 0.245, 0.09: top_p 0.7 keeps the first two.
  std::vector<float> logits = {2.0f, 1.0f, 0.0f};
  Sampler s(SamplingParams{.temperature = 1.0f, .top_k = 0, .top_p = 0.7f, .seed = 3});
  std::map<int, int> seen;
  for (int i = 0; i < 2000; ++i) seen[s.Sample(logits)]++;
  EXPECT_EQ(seen.count(2), 0u);
  EXPECT_GT(seen[1], 400);
}

TEST(SamplerTest, FrequenciesFollowSoftmax) {
  std::vector<float> logits = {0.0f, std::log(3.0f)};  // p = 0.25, 0.75
  Sampler s(SamplingParams{.temperature = 1.0f, .top_k = 0, .top_p = 1.0f, .seed = 9});
  int ones = 0;
  for (int i = 0; i < 8000; ++i) ones += s.Sample(logits);
  EXPECT_NEAR(ones / 8000.0, 0.75, 0.03);
}

TEST(SamplerTest, ValidateRejectsBadParams) {
  EXPECT_FALSE((SamplingParams{.temperature = -1.0f}).Validate().ok());
  EXPECT_FALSE((SamplingParams{.top_k = -2}).Validate().ok());
  EXPECT_FALSE((SamplingParams{.top_p = 0.0f}).Validate().ok());
  EXPECT_FALSE((SamplingParams{.top_p = 1.5f}).Validate().ok());
  EXPECT_TRUE(SamplingParams{}.Validate().ok());
}

}  // namespace
}  // namespace parley
