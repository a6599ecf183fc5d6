#include "engine/step_cost.h"

#include <gtest/gtest.h>

#include <random>

namespace parley {
namespace {

StepShape Shape(std::initializer_list<std::pair<int32_t, int32_t>> chunks) {
  StepShape s;
  for (auto [start, n] : chunks) s.Add(start, n);
  return s;
}

TEST(StepShapeTest, CountsRowsAndTheKeysEachRowSees) {
  const StepShape s = Shape({{0, 3}, {10, 1}});
  EXPECT_EQ(s.tokens, 4);
  EXPECT_DOUBLE_EQ(s.attention_pairs, 1 + 2 + 3 + 11);
}

TEST(StepCostModelTest, PredictsNothingUntilItHasSeenSteps) {
  StepCostModel m;
  EXPECT_FALSE(m.ready());
  EXPECT_EQ(m.Predict(Shape({{0, 100}})), 0);
  m.Observe(Shape({{0, 0}}), 1.0);  // an empty step teaches nothing
  m.Observe(Shape({{0, 5}}), NAN);
  EXPECT_EQ(m.num_seen(), 0);
}

TEST(StepCostModelTest, RecoversALinearCostFromNoisySteps) {
  // seconds = 8 ms + 0.2 ms per token + 20 ns per attention pair, ±3% noise.
  auto cost = [](const StepShape& s) { return 0.008 + 0.0002 * s.tokens + 2e-8 * s.attention_pairs; };
  std::mt19937 rng(7);
  std::uniform_real_distribution<double> noise(0.97, 1.03);
  StepCostModel m(128);
  for (int i = 0; i < 300; ++i) {
    StepShape s;
    const int decodes = 1 + static_cast<int>(rng() % 16);
    for (int d = 0; d < decodes; ++d) s.Add(static_cast<int32_t>(rng() % 3000), 1);
    if (rng() % 3 == 0) s.Add(static_cast<int32_t>(rng() % 2000), 1 + static_cast<int32_t>(rng() % 400));
    m.Observe(s, cost(s) * noise(rng));
  }
  ASSERT_TRUE(m.ready());
  for (const StepShape& s : {Shape({{0, 1}}), Shape({{1000, 1}, {2000, 1}}), Shape({{0, 300}, {500, 1}}),
                             Shape({{1500, 200}})}) {
    EXPECT_NEAR(m.Predict(s), cost(s), 0.05 * cost(s)) << s.tokens << " tokens";
  }
  for (double c : {m.base_seconds(), m.token_seconds(), m.pair_seconds()}) EXPECT_GE(c, 0);
}

TEST(StepCostModelTest, KeepsCoefficientsNonNegativeAndForgetsOldSteps) {
  StepCostModel m(16);
  // Steps whose cost does not grow with tokens at all: the per-token slope must not go
  // negative to fit the noise.
  for (int i = 0; i < 40; ++i) m.Observe(Shape({{0, 1 + (i % 7) * 50}}), i % 2 ? 0.010 : 0.011);
  for (double c : {m.base_seconds(), m.token_seconds(), m.pair_seconds()}) EXPECT_GE(c, 0);
  EXPECT_NEAR(m.Predict(Shape({{0, 1}})), 0.0105, 0.001);
  // The machine slows down 3x: after a window of new steps, the model follows.
  for (int i = 0; i < 16; ++i) m.Observe(Shape({{0, 1 + (i % 7) * 50}}), 0.0315);
  EXPECT_NEAR(m.Predict(Shape({{0, 1}})), 0.0315, 0.001);
  EXPECT_EQ(m.max_tokens_seen(), 301);
}

}  // namespace
}  // namespace parley
