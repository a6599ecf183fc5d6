#include "engine/canary_stats.h"

#include <gtest/gtest.h>

namespace parley {
namespace {

TEST(CanaryStatsTest, EmptyReadsZero) {
  CanaryStats s;
  EXPECT_EQ(s.positions(), 0);
  EXPECT_EQ(s.mean_abs_delta(), 0.0);
  EXPECT_EQ(s.disagreement_rate(), 0.0);
  EXPECT_EQ(s.Quantile(0.99), 0.0);
}

// 100 values 0.01 .. 1.00, every fourth a top-1 disagreement: everything fits the sample, so
// the quantiles are exact nearest ranks.
TEST(CanaryStatsTest, MeanQuantilesAndDisagreement) {
  CanaryStats s(/*reservoir=*/128);
  for (int i = 100; i >= 1; --i) s.Add(i / 100.0, i % 4 == 0);
  EXPECT_EQ(s.positions(), 100);
  EXPECT_EQ(s.disagreements(), 25);
  EXPECT_NEAR(s.mean_abs_delta(), 0.505, 1e-12);
  EXPECT_DOUBLE_EQ(s.disagreement_rate(), 0.25);
  EXPECT_DOUBLE_EQ(s.Quantile(0.99), 0.99);
  EXPECT_DOUBLE_EQ(s.Quantile(0.5), 0.50);
  EXPECT_DOUBLE_EQ(s.Quantile(1.0), 1.00);
  EXPECT_DOUBLE_EQ(s.Quantile(0.0), 0.01);
  EXPECT_DOUBLE_EQ(s.max_abs_delta(), 1.0);
}

// Past its capacity the sample stays a uniform draw of everything seen: 20,000 rising values
// through a 200-slot reservoir still give quantiles near the whole stream's (neither the first
// nor the last 200), while the mean stays exact.
TEST(CanaryStatsTest, ReservoirIsBoundedAndUniform) {
  CanaryStats s(/*reservoir=*/200, /*seed=*/7);
  const int n = 20000;
  for (int i = 0; i < n; ++i) s.Add((i + 0.5) / n, false);
  EXPECT_NEAR(s.mean_abs_delta(), 0.5, 1e-9);
  EXPECT_NEAR(s.Quantile(0.5), 0.5, 0.12);
  EXPECT_NEAR(s.Quantile(0.99), 0.99, 0.04);
  EXPECT_NEAR(s.Quantile(0.1), 0.1, 0.06);
  EXPECT_EQ(s.disagreement_rate(), 0.0);
}

}  // namespace
}  // namespace parley
