// Half and bfloat16 conversions: exhaustive over all 65536 halves, rounding of midpoints
// and random floats against the compiler's own _Float16 conversion.
#include "kernels/fp16.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>

namespace parley {
namespace {

uint32_t Bits(float f) {
  uint32_t b;
  std::memcpy(&b, &f, 4);
  return b;
}

float FromBits(uint32_t b) {
  float f;
  std::memcpy(&f, &b, 4);
  return f;
}

bool IsHalfNan(uint16_t h) { return (h & 0x7c00) == 0x7c00 && (h & 0x3ff) != 0; }

TEST(Fp16Test, AllHalvesConvertExactlyAndRoundTrip) {
  for (uint32_t i = 0; i < 65536; ++i) {
    const uint16_t h = static_cast<uint16_t>(i);
    const float f = F16ToF32(h);
    if (IsHalfNan(h)) {
      EXPECT_TRUE(std::isnan(f)) << h;
      EXPECT_EQ(Bits(f) & 0x00400000u, 0x00400000u) << "NaN comes back quiet: " << h;
      EXPECT_TRUE(IsHalfNan(F32ToF16(f))) << h;
      continue;
    }
    ASSERT_EQ(F32ToF16(f), h) << "half 0x" << std::hex << i;
    // Independent value check: sign * mantissa * 2^exp.
    const int exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
    const double mag = exp == 0    ? std::ldexp(mant, -24)
                       : exp == 31 ? std::numeric_limits<double>::infinity()
                                   : std::ldexp(1024 + mant, exp - 25);
    ASSERT_EQ(static_cast<double>(f), (h & 0x8000) ? -mag : mag) << "half 0x" << std::hex << i;
  }
}

TEST(Fp16Test, RoundsToNearestEven) {
  EXPECT_EQ(F32ToF16(1.0f + std::ldexp(1.0f, -11)), 0x3c00);      // tie, even stays down
  EXPECT_EQ(F32ToF16(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3c02);  // tie, rounds up to even
  EXPECT_EQ(F32ToF16(1.0f + std::ldexp(1.0f, -11) + std::ldexp(1.0f, -20)), 0x3c01);
  EXPECT_EQ(F32ToF16(65504.0f), 0x7bff);
  EXPECT_EQ(F32ToF16(65519.0f), 0x7bff);
  EXPECT_EQ(F32ToF16(65520.0f), 0x7c00);  // rounds to Inf
  EXPECT_EQ(F32ToF16(-1e10f), 0xfc00);
  EXPECT_EQ(F32ToF16(std::ldexp(1.0f, -25)), 0x0000);  // half the smallest subnormal: tie
  EXPECT_EQ(F32ToF16(std::ldexp(1.5f, -25)), 0x0001);
  EXPECT_EQ(F32ToF16(std::ldexp(3.0f, -25)), 0x0002);  // 1.5 subnormal steps: tie to even
  EXPECT_EQ(F32ToF16(std::ldexp(1.0f, -14) * (1023.5f / 1024)), 0x0400);  // to smallest normal
  EXPECT_EQ(F32ToF16(FromBits(0x00000001)), 0x0000);                      // float subnormal
  EXPECT_EQ(F32ToF16(-0.0f), 0x8000);
}

TEST(Fp16Test, MatchesCompilerConversionOnRandomFloats) {
#ifndef __FLT16_MAX__
  // Clang before 15 has no _Float16 on x86 (the clang ASan + fuzz build uses clang 14); GCC
  // has it. The exact cases above still run on every compiler.
  GTEST_SKIP() << "this compiler has no _Float16 on this target";
#else
  std::mt19937 rng(42);
  std::uniform_int_distribution<uint32_t> bits;
  for (int i = 0; i < 200000; ++i) {
    // Random bit patterns restricted to the exponent range around the half range.
    uint32_t b = bits(rng);
    b = (b & 0x807fffff) | ((100 + (b >> 23) % 50) << 23);
    const float f = FromBits(b);
    const _Float16 h = static_cast<_Float16>(f);
    uint16_t want;
    std::memcpy(&want, &h, 2);
    ASSERT_EQ(F32ToF16(f), want) << f;
  }
#endif
}

TEST(Bf16Test, RoundsToNearestEvenAndKeepsSpecials) {
  EXPECT_EQ(F32ToBf16(1.0f), 0x3f80);
  EXPECT_EQ(F32ToBf16(FromBits(0x3f808000)), 0x3f80);  // tie, even stays
  EXPECT_EQ(F32ToBf16(FromBits(0x3f818000)), 0x3f82);  // tie, rounds up to even
  EXPECT_EQ(F32ToBf16(FromBits(0x3f808001)), 0x3f81);
  EXPECT_EQ(F32ToBf16(std::numeric_limits<float>::infinity()), 0x7f80);
  EXPECT_EQ(F32ToBf16(FromBits(0x7f7fffff)), 0x7f80);  // FLT_MAX rounds to Inf
  EXPECT_TRUE(std::isnan(Bf16ToF32(F32ToBf16(std::nanf("")))));
  EXPECT_TRUE(std::isnan(Bf16ToF32(F32ToBf16(FromBits(0x7f800001)))));  // low-payload NaN
  for (uint32_t i = 0; i < 65536; ++i) {
    const uint16_t b = static_cast<uint16_t>(i);
    const float f = Bf16ToF32(b);
    if (std::isnan(f)) continue;
    ASSERT_EQ(F32ToBf16(f), b);
    ASSERT_EQ(Bits(f), static_cast<uint32_t>(i) << 16);
  }
}

}  // namespace
}  // namespace parley
