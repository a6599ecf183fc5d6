// QuantizeRow round trips: dequant(quant(x)) stays within a per-type bound relative to the
// row's absmax, and exact zero rows and unsupported types behave.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "kernels/quant.h"
#include "kernels/quant_test_util.h"
#include "kernels/tensor_type.h"

namespace parley {
namespace {

using test::Info;

// Largest |dequant(quant(x)) - x| / absmax(x) allowed. Legacy types: half a step, except
// that Q4_0/Q5_0 map the largest magnitude to -2^(b-1), so a value of the opposite sign may
// clamp a whole step (1/8, 1/16); plus the f16 rounding of d. K-types also round their
// sub-block scales (4-bit for Q2_K), so their bounds are set from measured errors with
// about 1.5x margin (measured max: Q2_K 0.24, Q3_K 0.16, Q4_K 0.053, Q5_K 0.028, Q6_K 0.015).
double MaxRelativeError(TensorType type) {
  switch (type) {
    case TensorType::kF32: return 0.0;
    case TensorType::kF16: return 1.0 / 2048;
    case TensorType::kBF16: return 1.0 / 256;
    case TensorType::kQ8_0: return 0.005;
    case TensorType::kQ4_0: return 0.13;
    case TensorType::kQ5_0: return 0.07;
    case TensorType::kQ4_1: return 0.075;
    case TensorType::kQ5_1: return 0.04;
    case TensorType::kQ2_K: return 0.36;
    case TensorType::kQ3_K: return 0.24;
    case TensorType::kQ4_K: return 0.08;
    case TensorType::kQ5_K: return 0.042;
    case TensorType::kQ6_K: return 0.023;
    default: return 0.0;
  }
}

class QuantizeTest : public ::testing::TestWithParam<TensorType> {};

TEST_P(QuantizeTest, RoundTripIsClose) {
  const TensorType type = GetParam();
  const int64_t n = Info(type).block_elems == 1 ? 1000 : 8 * Info(type).block_elems;
  std::mt19937 rng(5 + static_cast<int>(type));
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (float shift : {0.0f, 0.5f, -3.0f}) {  // centred and off-centre rows
    std::vector<float> x(static_cast<size_t>(n));
    for (float& v : x) v = 0.02f * (normal(rng) + shift);
    std::vector<uint8_t> encoded(RowBytes(type, n));
    ASSERT_TRUE(QuantizeRow(type, x.data(), encoded.data(), n));
    std::vector<float> y(static_cast<size_t>(n));
    DequantizeRow(type, encoded.data(), y.data(), n);
    double absmax = 0.0, max_err = 0.0, sq_err = 0.0, sq = 0.0;
    for (int64_t i = 0; i < n; ++i) {
      absmax = std::max(absmax, std::fabs(static_cast<double>(x[i])));
      const double err = std::fabs(static_cast<double>(y[i]) - x[i]);
      max_err = std::max(max_err, err);
      sq_err += err * err;
      sq += static_cast<double>(x[i]) * x[i];
    }
    EXPECT_LE(max_err, MaxRelativeError(type) * absmax)
        << Info(type).name << " shift " << shift << " relative max error " << max_err / absmax
        << " rms error " << std::sqrt(sq_err / sq);
  }
}

TEST_P(QuantizeTest, ZeroRowStaysZero) {
  const TensorType type = GetParam();
  const int64_t n = 2 * Info(type).block_elems;
  const std::vector<float> x(static_cast<size_t>(n), 0.0f);
  std::vector<uint8_t> encoded(RowBytes(type, n));
  ASSERT_TRUE(QuantizeRow(type, x.data(), encoded.data(), n));
  std::vector<float> y(static_cast<size_t>(n), 1.0f);
  DequantizeRow(type, encoded.data(), y.data(), n);
  for (float v : y) ASSERT_EQ(v, 0.0f) << Info(type).name;
}

std::string TypeParamName(const ::testing::TestParamInfo<TensorType>& info) {
  return Info(info.param).name;
}

INSTANTIATE_TEST_SUITE_P(AllTypes, QuantizeTest, ::testing::ValuesIn(test::kSupportedTypes),
                         TypeParamName);

TEST(QuantizeRowTest, RejectsTypesItCannotEncode) {
  std::vector<float> x(256, 1.0f);
  std::vector<uint8_t> out(4096);
  EXPECT_FALSE(QuantizeRow(TensorType::kQ8_K, x.data(), out.data(), 256));
  EXPECT_FALSE(QuantizeRow(TensorType::kQ8_1, x.data(), out.data(), 256));
  EXPECT_FALSE(QuantizeRow(static_cast<TensorType>(16), x.data(), out.data(), 256));  // IQ2_XXS
}

}  // namespace
}  // namespace parley
