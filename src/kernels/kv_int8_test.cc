// int8 KV rows: the byte layout (per head: values, then an f16 scale per group of 32), the
// round-trip error bound (half a step, scale / 2, per element, as scales round up), zero
// groups, groups and heads that do not share scales, and values too large for f16 scales.
#include "kernels/kv_int8.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "kernels/fp16.h"

namespace parley {
namespace {

uint16_t ScaleBits(const uint8_t* head, int32_t d, int32_t group) {
  uint16_t h;
  std::memcpy(&h, head + d + 2 * group, 2);
  return h;
}

TEST(KvInt8Test, LayoutIsValuesThenAnF16ScalePerGroupOf32) {
  const int32_t heads = 2, d = 40;  // groups of 32 and 8
  EXPECT_EQ(KvI8Groups(d), 2);
  EXPECT_EQ(KvI8HeadBytes(d), 44u);
  EXPECT_EQ(KvI8HeadBytes(256), 272u);
  EXPECT_EQ(KvI8HeadBytes(64), 68u);
  EXPECT_EQ(KvI8HeadBytes(7), 9u);
  std::vector<float> x(heads * d, 0.0f);
  x[0] = 1.2f;
  x[1] = -2.0f;
  x[2] = 0.5f;
  x[32] = 0.75f;  // group 1 of head 0: its own scale
  x[33] = -0.25f;
  x[d + 35] = 3.0f;  // head 1: group 0 all zero, group 1 amax 3
  std::vector<uint8_t> row(heads * KvI8HeadBytes(d));
  QuantizeKvRowI8(x.data(), heads, d, row.data());
  // Head 0, group 0: amax 2 -> scale 2/127 rounded up to f16 (0.0157470703125).
  const float s0 = KvI8Scale(row.data(), d, 0);
  EXPECT_EQ(ScaleBits(row.data(), d, 0), F32ToF16(s0));
  EXPECT_GE(s0, 2.0f / 127.0f);
  EXPECT_LT(F16ToF32(ScaleBits(row.data(), d, 0) - 1), 2.0f / 127.0f);
  EXPECT_EQ(static_cast<int8_t>(row[0]), std::lround(1.2f / s0));
  EXPECT_EQ(static_cast<int8_t>(row[1]), -127);
  EXPECT_EQ(static_cast<int8_t>(row[2]), std::lround(0.5f / s0));
  EXPECT_EQ(static_cast<int8_t>(row[3]), 0);
  const float s1 = KvI8Scale(row.data(), d, 1);
  EXPECT_GE(s1, 0.75f / 127.0f);
  EXPECT_LT(s1, 0.75f / 127.0f * 1.001f);
  EXPECT_EQ(static_cast<int8_t>(row[32]), 127);
  EXPECT_EQ(static_cast<int8_t>(row[33]), std::lround(-0.25f / s1));
  // Head 1 starts at d + 4 bytes, with its own scales.
  const uint8_t* h1 = row.data() + KvI8HeadBytes(d);
  EXPECT_EQ(KvI8Scale(h1, d, 0), 0.0f);
  for (int32_t i = 0; i < 32; ++i) EXPECT_EQ(h1[i], 0) << i;
  EXPECT_GE(KvI8Scale(h1, d, 1), 3.0f / 127.0f);
  EXPECT_EQ(static_cast<int8_t>(h1[35]), 127);
}

TEST(KvInt8Test, ZeroGroupsHaveScaleZeroAndComeBackZero) {
  const int32_t d = 64;
  std::vector<float> x(2 * d, 0.0f), back(2 * d, 1.0f);
  x[d + 40] = 0.25f;
  std::vector<uint8_t> row(2 * KvI8HeadBytes(d), 0xAB);
  QuantizeKvRowI8(x.data(), 2, d, row.data());
  EXPECT_EQ(KvI8Scale(row.data(), d, 0), 0.0f);
  EXPECT_EQ(KvI8Scale(row.data(), d, 1), 0.0f);
  EXPECT_EQ(KvI8Scale(row.data() + KvI8HeadBytes(d), d, 0), 0.0f);
  for (int32_t i = 0; i < d; ++i) EXPECT_EQ(row[i], 0);
  DequantizeKvRowI8(row.data(), 2, d, back.data());
  for (int32_t i = 0; i < 2 * d; ++i) {
    if (i != d + 40) {
      EXPECT_EQ(back[i], 0.0f) << i;
    }
  }
  // 0.25 is its group's max: q = 127 on a scale just above 0.25 / 127.
  EXPECT_EQ(static_cast<int8_t>(row[KvI8HeadBytes(d) + 40]), 127);
  EXPECT_NEAR(back[d + 40], 0.25f, 0.25f / 127 / 2);
}

TEST(KvInt8Test, RoundTripWithinHalfAStepPerGroup) {
  std::mt19937 rng(5);
  for (int32_t d : {1, 7, 32, 40, 64, 256}) {
    for (int32_t heads : {1, 3, 4}) {
      std::vector<float> x(static_cast<size_t>(heads) * d), back(x.size());
      for (int32_t h = 0; h < heads; ++h) {
        for (int32_t i = 0; i < d; ++i) {
          // Heads and groups of very different magnitudes (1e-6 .. 1e3): one group's scale
          // must not leak into another, and tiny groups take subnormal f16 scales.
          const float mag = std::pow(10.0f, static_cast<float>((h + i / kKvI8Group) % 10) - 6.0f);
          x[h * d + i] = std::uniform_real_distribution<float>(-mag, mag)(rng);
        }
      }
      std::vector<uint8_t> row(heads * KvI8HeadBytes(d));
      QuantizeKvRowI8(x.data(), heads, d, row.data());
      DequantizeKvRowI8(row.data(), heads, d, back.data());
      for (int32_t h = 0; h < heads; ++h) {
        const uint8_t* head = row.data() + h * KvI8HeadBytes(d);
        for (int32_t g = 0; g < KvI8Groups(d); ++g) {
          const int32_t begin = g * kKvI8Group, end = std::min(d, begin + kKvI8Group);
          float amax = 0;
          for (int32_t i = begin; i < end; ++i) amax = std::max(amax, std::fabs(x[h * d + i]));
          const float scale = KvI8Scale(head, d, g);
          // The smallest f16 at or above amax / 127.
          ASSERT_GE(scale, amax / 127.0f);
          if (scale > 0) {
            ASSERT_LT(F16ToF32(ScaleBits(head, d, g) - 1), amax / 127.0f);
          }
          for (int32_t i = begin; i < end; ++i) {
            const int8_t q = static_cast<int8_t>(head[i]);
            ASSERT_GE(q, -127);
            // Exact in f32: the kernels read this very value.
            ASSERT_EQ(back[h * d + i], static_cast<float>(static_cast<double>(scale) * q));
            ASSERT_LE(std::fabs(back[h * d + i] - x[h * d + i]), scale * 0.5f * (1 + 1e-6f))
                << "d=" << d << " heads=" << heads << " h=" << h << " i=" << i;
          }
        }
      }
      // Deterministic: the same floats give the same bytes.
      std::vector<uint8_t> again(row.size());
      QuantizeKvRowI8(x.data(), heads, d, again.data());
      EXPECT_EQ(row, again);
    }
  }
}

TEST(KvInt8Test, ValuesBeyondTheLargestF16ScaleClamp) {
  const int32_t d = 32;
  std::vector<float> x(d, 1.0f), back(d);
  x[0] = 1e9f;   // 1e9 / 127 > 65504
  x[1] = -1e9f;
  std::vector<uint8_t> row(KvI8HeadBytes(d));
  QuantizeKvRowI8(x.data(), 1, d, row.data());
  EXPECT_EQ(KvI8Scale(row.data(), d, 0), 65504.0f);  // the largest finite f16
  EXPECT_EQ(static_cast<int8_t>(row[0]), 127);
  EXPECT_EQ(static_cast<int8_t>(row[1]), -127);
  DequantizeKvRowI8(row.data(), 1, d, back.data());
  EXPECT_EQ(back[0], 127.0f * 65504.0f);
  EXPECT_TRUE(std::isfinite(back[1]));
}

}  // namespace
}  // namespace parley
