#include "loadgen/distribution.h"

#include <cmath>

#include <gtest/gtest.h>

namespace parley::loadgen {
namespace {

double MeanOf(const Distribution& d, int n, double* lo, double* hi) {
  Rng rng(7);
  double sum = 0;
  *lo = 1e300;
  *hi = -1e300;
  for (int i = 0; i < n; ++i) {
    double v = d.Sample(rng);
    sum += v;
    *lo = std::min(*lo, v);
    *hi = std::max(*hi, v);
  }
  return sum / n;
}

TEST(DistributionTest, ParsesEveryForm) {
  for (const char* spec : {"40", "uniform:20:60", "normal:40:10", "lognormal:40:20", "exp:1.5", "normal:40:10,min=5",
                           "normal:40:10,max=60,min=1"}) {
    auto d = Distribution::Parse(spec);
    EXPECT_TRUE(d.ok()) << spec << ": " << d.status().message();
  }
}

TEST(DistributionTest, RejectsNonsenseWithAClearMessage) {
  for (const char* spec : {"", "abc", "uniform:5", "uniform:9:1", "normal:1:-1", "exp:x", "40,mid=3", "40,max=1,min=2",
                           "lognormal:0:1", "nan"}) {
    auto d = Distribution::Parse(spec);
    ASSERT_FALSE(d.ok()) << spec;
    EXPECT_NE(d.status().message().find("bad distribution"), std::string::npos);
  }
}

TEST(DistributionTest, SamplesHaveTheRequestedMeanAndBounds) {
  double lo, hi;
  EXPECT_EQ(MeanOf(*Distribution::Parse("40"), 100, &lo, &hi), 40);
  EXPECT_NEAR(MeanOf(*Distribution::Parse("uniform:20:60"), 20000, &lo, &hi), 40, 0.5);
  EXPECT_GE(lo, 20);
  EXPECT_LE(hi, 60);
  EXPECT_NEAR(MeanOf(*Distribution::Parse("normal:40:10"), 20000, &lo, &hi), 40, 0.3);
  EXPECT_NEAR(MeanOf(*Distribution::Parse("lognormal:40:20"), 40000, &lo, &hi), 40, 0.6);
  EXPECT_GT(lo, 0);
  EXPECT_NEAR(MeanOf(*Distribution::Parse("exp:2"), 40000, &lo, &hi), 2, 0.05);
  EXPECT_GE(lo, 0);
  MeanOf(*Distribution::Parse("normal:40:30,min=10,max=50"), 5000, &lo, &hi);
  EXPECT_EQ(lo, 10);
  EXPECT_EQ(hi, 50);
}

TEST(DistributionTest, SameSeedSameDraws) {
  auto d = *Distribution::Parse("normal:40:10");
  Rng a(3), b(3), c(4);
  double da = d.Sample(a), db = d.Sample(b), dc = d.Sample(c);
  EXPECT_EQ(da, db);
  EXPECT_NE(da, dc);
}

}  // namespace
}  // namespace parley::loadgen
