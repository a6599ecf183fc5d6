// Dequantization against an independent per-element reference written straight from the
// formulas of docs model-facts.md §2.3 (one element at a time, no shared code with the
// kernels), exact equality; and the dispatched DequantizeRow at every SIMD level.
#include "kernels/quant.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "kernels/cpu.h"
#include "kernels/fp16.h"
#include "kernels/quant_test_util.h"
#include "kernels/tensor_type.h"

namespace parley {
namespace {

using test::Info;

float HalfAt(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return F16ToF32(h);
}

// Element e of the block at b, per model-facts §2.3. All products of a scale with a small
// integer are exact in f32 here (an f16 scale has 11 significant bits), so only the final
// addition/subtraction of a min rounds; the order of the products does not matter.
float ReferenceElement(TensorType type, const uint8_t* b, int e) {
  switch (type) {
    case TensorType::kQ4_0: {
      const uint8_t* qs = b + 2;
      const int nib = e < 16 ? (qs[e] & 0xF) : (qs[e - 16] >> 4);
      return HalfAt(b) * static_cast<float>(nib - 8);
    }
    case TensorType::kQ4_1: {
      const uint8_t* qs = b + 4;
      const int nib = e < 16 ? (qs[e] & 0xF) : (qs[e - 16] >> 4);
      return HalfAt(b) * static_cast<float>(nib) + HalfAt(b + 2);
    }
    case TensorType::kQ5_0: {
      uint32_t h;
      std::memcpy(&h, b + 2, 4);
      const uint8_t* qs = b + 6;
      const int nib = e < 16 ? (qs[e] & 0xF) : (qs[e - 16] >> 4);
      const int v = nib | (static_cast<int>((h >> e) & 1) << 4);
      return HalfAt(b) * static_cast<float>(v - 16);
    }
    case TensorType::kQ5_1: {
      uint32_t h;
      std::memcpy(&h, b + 4, 4);
      const uint8_t* qs = b + 8;
      const int nib = e < 16 ? (qs[e] & 0xF) : (qs[e - 16] >> 4);
      const int v = nib | (static_cast<int>((h >> e) & 1) << 4);
      return HalfAt(b) * static_cast<float>(v) + HalfAt(b + 2);
    }
    case TensorType::kQ8_0: return HalfAt(b) * static_cast<float>(static_cast<int8_t>(b[2 + e]));
    case TensorType::kQ2_K: {
      const uint8_t* scales = b;
      const uint8_t* qs = b + 16;
      const int h = e / 128, j = (e % 128) / 32, l = e % 32;
      const int q = (qs[32 * h + l] >> (2 * j)) & 3;
      const int s = 8 * h + 2 * j + l / 16;
      return HalfAt(b + 80) * static_cast<float>(scales[s] & 0xF) * static_cast<float>(q) -
             HalfAt(b + 82) * static_cast<float>(scales[s] >> 4);
    }
    case TensorType::kQ3_K: {
      const uint8_t* hmask = b;
      const uint8_t* qs = b + 32;
      const uint8_t* scales = b + 96;
      const int h = e / 128, j = (e % 128) / 32, l = e % 32;
      const int i = 8 * h + 2 * j + l / 16;
      const int low = i < 8 ? (scales[i] & 0xF) : (scales[i - 8] >> 4);
      const int high = (scales[8 + (i % 4)] >> (2 * (i / 4))) & 3;
      const int sc = (low | (high << 4)) - 32;
      const int low2 = (qs[32 * h + l] >> (2 * j)) & 3;
      const int highbit = (hmask[l] >> (4 * h + j)) & 1;
      const int q = low2 - (highbit ? 0 : 4);
      return HalfAt(b + 108) * static_cast<float>(sc) * static_cast<float>(q);
    }
    case TensorType::kQ4_K:
    case TensorType::kQ5_K: {
      const bool five = type == TensorType::kQ5_K;
      const uint8_t* s = b + 4;
      const uint8_t* qh = b + 16;
      const uint8_t* qs = b + (five ? 48 : 16);
      const int c = e / 64, l = e % 32;
      const bool high_nibble = (e % 64) >= 32;
      const int j = 2 * c + (high_nibble ? 1 : 0);
      int sc, mn;
      if (j < 4) {
        sc = s[j] & 63;
        mn = s[j + 4] & 63;
      } else {
        sc = (s[j + 4] & 0x0F) | ((s[j - 4] >> 6) << 4);
        mn = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
      }
      int q = high_nibble ? (qs[32 * c + l] >> 4) : (qs[32 * c + l] & 0xF);
      if (five) q += 16 * ((qh[l] >> (2 * c + (high_nibble ? 1 : 0))) & 1);
      return HalfAt(b) * static_cast<float>(sc) * static_cast<float>(q) -
             HalfAt(b + 2) * static_cast<float>(mn);
    }
    case TensorType::kQ6_K: {
      const int n = e / 128, g = (e % 128) / 32, l = e % 32;
      const uint8_t* ql = b + 64 * n;
      const uint8_t* qh = b + 128 + 32 * n;
      const int8_t* scales = reinterpret_cast<const int8_t*>(b + 192 + 8 * n);
      int v = 0;
      switch (g) {
        case 0: v = (ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4); break;
        case 1: v = (ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4); break;
        case 2: v = (ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4); break;
        case 3: v = (ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4); break;
      }
      const int sc = scales[l / 16 + 2 * g];
      return HalfAt(b + 208) * static_cast<float>(sc) * static_cast<float>(v - 32);
    }
    case TensorType::kF32: {
      float f;
      std::memcpy(&f, b, 4);
      return f;
    }
    case TensorType::kF16: return HalfAt(b);
    case TensorType::kBF16: {
      uint16_t h;
      std::memcpy(&h, b, 2);
      const uint32_t bits = static_cast<uint32_t>(h) << 16;
      float f;
      std::memcpy(&f, &bits, 4);
      return f;
    }
    default: ADD_FAILURE() << "no reference for type " << static_cast<int>(type); return 0.0f;
  }
}

std::vector<float> ReferenceRow(TensorType type, const std::vector<uint8_t>& row, int64_t n) {
  const TypeInfo& info = Info(type);
  std::vector<float> out(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const int64_t block = i / info.block_elems;
    out[i] = ReferenceElement(type, row.data() + block * info.block_bytes,
                              static_cast<int>(i % info.block_elems));
  }
  return out;
}

class DequantTest : public ::testing::TestWithParam<TensorType> {};

TEST_P(DequantTest, ScalarMatchesPerElementReference) {
  const TensorType type = GetParam();
  std::mt19937 rng(1234 + static_cast<int>(type));
  const int64_t n = Info(type).block_elems == 1 ? 777 : 8 * Info(type).block_elems;
  for (int trial = 0; trial < 20; ++trial) {
    const std::vector<uint8_t> row = test::RandomRow(type, n, rng);
    const std::vector<float> want = ReferenceRow(type, row, n);
    std::vector<float> got(static_cast<size_t>(n), -1.0f);
    scalar::DequantizeRow(type, row.data(), got.data(), n);
    for (int64_t i = 0; i < n; ++i) {
      ASSERT_EQ(got[i], want[i]) << Info(type).name << " element " << i << " trial " << trial;
    }
  }
}

TEST_P(DequantTest, EveryLevelMatchesScalarExactly) {
  const TensorType type = GetParam();
  std::mt19937 rng(99 + static_cast<int>(type));
  const int elems = Info(type).block_elems;
  const std::vector<int64_t> sizes =
      elems == 1 ? std::vector<int64_t>{1, 7, 8, 15, 16, 17, 33, 643}
                 : std::vector<int64_t>{elems, 3 * elems, 5 * elems, 20 * elems};
  for (SimdLevel level : test::AvailableLevels()) {
    test::ScopedSimdLevel scoped(level);
    for (int64_t n : sizes) {
      const std::vector<uint8_t> row = test::RandomRow(type, n, rng);
      std::vector<float> want(static_cast<size_t>(n)), got(static_cast<size_t>(n), -1.0f);
      scalar::DequantizeRow(type, row.data(), want.data(), n);
      DequantizeRow(type, row.data(), got.data(), n);
      for (int64_t i = 0; i < n; ++i) {
        ASSERT_EQ(got[i], want[i])
            << Info(type).name << " at " << SimdLevelName(level) << " n=" << n << " element " << i;
      }
    }
  }
}

// Every bit pattern of F16 and BF16 (subnormals, Inf, NaN included) dequantizes to the same
// bits at every level.
TEST(DequantHalfTypesTest, AllBitPatternsAtEveryLevel) {
  std::vector<uint8_t> row(2 * 65536);
  for (uint32_t i = 0; i < 65536; ++i) {
    const uint16_t h = static_cast<uint16_t>(i);
    std::memcpy(row.data() + 2 * i, &h, 2);
  }
  for (TensorType type : {TensorType::kF16, TensorType::kBF16}) {
    std::vector<float> want(65536);
    scalar::DequantizeRow(type, row.data(), want.data(), 65536);
    for (SimdLevel level : test::AvailableLevels()) {
      test::ScopedSimdLevel scoped(level);
      std::vector<float> got(65536);
      DequantizeRow(type, row.data(), got.data(), 65536);
      ASSERT_EQ(std::memcmp(got.data(), want.data(), got.size() * 4), 0)
          << Info(type).name << " at " << SimdLevelName(level);
    }
  }
}

std::string TypeParamName(const ::testing::TestParamInfo<TensorType>& info) {
  return Info(info.param).name;
}

INSTANTIATE_TEST_SUITE_P(AllTypes, DequantTest, ::testing::ValuesIn(test::kSupportedTypes),
                         TypeParamName);

}  // namespace
}  // namespace parley
