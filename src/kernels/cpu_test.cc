// SIMD level detection and forcing.
#include "kernels/cpu.h"

#include <gtest/gtest.h>

namespace parley {
namespace {

TEST(CpuTest, ForceSimdLevelClampsToDetected) {
  const SimdLevel saved = ActiveSimdLevel();
  EXPECT_EQ(ForceSimdLevel(SimdLevel::kScalar), SimdLevel::kScalar);
  EXPECT_EQ(ActiveSimdLevel(), SimdLevel::kScalar);
  EXPECT_EQ(ForceSimdLevel(SimdLevel::kAvx512), DetectedSimdLevel());
  ForceSimdLevel(saved);
}

TEST(CpuTest, LevelNames) {
  EXPECT_STREQ(SimdLevelName(SimdLevel::kScalar), "scalar");
  EXPECT_STREQ(SimdLevelName(SimdLevel::kAvx2), "avx2");
  EXPECT_STREQ(SimdLevelName(SimdLevel::kAvx512), "avx512");
}

}  // namespace
}  // namespace parley
