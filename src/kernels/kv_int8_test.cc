// int8 KV rows: the byte layout (per head: values, then the scale), the round-trip error
// bound (half a step, scale / 2, per element), zero heads, and that heads do not share
// scales.
#include "kernels/kv_int8.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

namespace parley {
namespace {

TEST(KvInt8Test, LayoutIsValuesThenScalePerHead) {
  const int32_t heads = 2, d = 4;
  const float x[heads * d] = {1.2f, -2.0f, 0.5f, 0.0f, 0.0f, 0.0f, 3.0f, -1.0f};
  std::vector<uint8_t> row(heads * KvI8HeadBytes(d));
  ASSERT_EQ(row.size(), 16u);
  QuantizeKvRowI8(x, heads, d, row.data());
  // Head 0: amax 2 -> scale 2/127, q = round(x * 63.5) = 76, -127, 32, 0.
  EXPECT_FLOAT_EQ(KvI8Scale(row.data(), d), 2.0f / 127.0f);
  EXPECT_EQ(static_cast<int8_t>(row[0]), 76);
  EXPECT_EQ(static_cast<int8_t>(row[1]), -127);
  EXPECT_EQ(static_cast<int8_t>(row[2]), 32);
  EXPECT_EQ(static_cast<int8_t>(row[3]), 0);
  // Head 1 starts at d + 4 bytes, with its own scale.
  const uint8_t* h1 = row.data() + KvI8HeadBytes(d);
  EXPECT_FLOAT_EQ(KvI8Scale(h1, d), 3.0f / 127.0f);
  EXPECT_EQ(static_cast<int8_t>(h1[2]), 127);
  EXPECT_EQ(static_cast<int8_t>(h1[3]), -42);
}

TEST(KvInt8Test, ZeroHeadHasScaleZero) {
  const int32_t d = 8;
  std::vector<float> x(2 * d, 0.0f), back(2 * d, 1.0f);
  x[d + 3] = 0.25f;
  std::vector<uint8_t> row(2 * KvI8HeadBytes(d), 0xAB);
  QuantizeKvRowI8(x.data(), 2, d, row.data());
  EXPECT_EQ(KvI8Scale(row.data(), d), 0.0f);
  for (int32_t i = 0; i < d; ++i) EXPECT_EQ(row[i], 0);
  DequantizeKvRowI8(row.data(), 2, d, back.data());
  for (int32_t i = 0; i < 2 * d; ++i) EXPECT_EQ(back[i], x[i]) << i;  // 0.25 is the head's max
}

TEST(KvInt8Test, RoundTripWithinHalfAStep) {
  std::mt19937 rng(5);
  for (int32_t d : {1, 7, 64, 256}) {
    for (int32_t heads : {1, 3, 4}) {
      std::vector<float> x(static_cast<size_t>(heads) * d), back(x.size());
      for (int32_t h = 0; h < heads; ++h) {
        // Heads of very different magnitudes: one head's scale must not leak into another.
        std::uniform_real_distribution<float> dist(-std::pow(10.0f, h - 1.0f), std::pow(10.0f, h - 1.0f));
        for (int32_t i = 0; i < d; ++i) x[h * d + i] = dist(rng);
      }
      std::vector<uint8_t> row(heads * KvI8HeadBytes(d));
      QuantizeKvRowI8(x.data(), heads, d, row.data());
      DequantizeKvRowI8(row.data(), heads, d, back.data());
      for (int32_t h = 0; h < heads; ++h) {
        float amax = 0;
        for (int32_t i = 0; i < d; ++i) amax = std::max(amax, std::fabs(x[h * d + i]));
        const float scale = KvI8Scale(row.data() + h * KvI8HeadBytes(d), d);
        EXPECT_FLOAT_EQ(scale, amax / 127.0f);
        for (int32_t i = 0; i < d; ++i) {
          const int8_t q = static_cast<int8_t>(row[h * KvI8HeadBytes(d) + i]);
          ASSERT_GE(q, -127);
          ASSERT_NEAR(back[h * d + i], x[h * d + i], scale * 0.5f * (1 + 1e-5f) + 1e-30f)
              << "d=" << d << " heads=" << heads << " h=" << h << " i=" << i;
        }
      }
      // Deterministic: the same floats give the same bytes.
      std::vector<uint8_t> again(row.size());
      QuantizeKvRowI8(x.data(), heads, d, again.data());
      EXPECT_EQ(row, again);
    }
  }
}

}  // namespace
}  // namespace parley
