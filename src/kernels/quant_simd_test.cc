// DotRow and MatMulRows at every SIMD level this CPU has, against the scalar reference, on
// odd sizes, row counts, token counts and strides. Error bound for one dot product:
//   |got - want| <= 1e-4 * sum_i |w_i * x_i| + 1e-5
// (f32 accumulation over at most a few thousand terms stays well inside this).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "kernels/cpu.h"
#include "kernels/quant.h"
#include "kernels/quant_test_util.h"
#include "kernels/tensor_type.h"

namespace parley {
namespace {

using test::Info;

// sum_i |w_i * x_i| with w the scalar dequantization of `row`.
double AbsDotBound(TensorType type, const void* row, const float* x, int64_t n) {
  std::vector<float> w(static_cast<size_t>(n));
  scalar::DequantizeRow(type, row, w.data(), n);
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) sum += std::fabs(static_cast<double>(w[i]) * x[i]);
  return sum;
}

double Tolerance(double abs_dot) { return 1e-4 * abs_dot + 1e-5; }

std::vector<int64_t> RowLengths(TensorType type) {
  const int elems = Info(type).block_elems;
  if (elems == 1) return {1, 7, 8, 9, 16, 31, 33, 640, 643};
  if (elems == 32) return {32, 64, 96, 160, 640, 2048};
  return {256, 512, 768, 2560};
}

class QuantSimdTest : public ::testing::TestWithParam<TensorType> {};

TEST_P(QuantSimdTest, DotRowMatchesScalar) {
  const TensorType type = GetParam();
  std::mt19937 rng(7 + static_cast<int>(type));
  for (SimdLevel level : test::AvailableLevels()) {
    test::ScopedSimdLevel scoped(level);
    for (int64_t n : RowLengths(type)) {
      for (int trial = 0; trial < 4; ++trial) {
        const std::vector<uint8_t> row = test::RandomRow(type, n, rng);
        const std::vector<float> x = test::RandomFloats(n, rng);
        const float want = scalar::DotRow(type, row.data(), x.data(), n);
        const float got = DotRow(type, row.data(), x.data(), n);
        const double bound = Tolerance(AbsDotBound(type, row.data(), x.data(), n));
        ASSERT_LE(std::fabs(static_cast<double>(got) - want), bound)
            << Info(type).name << " at " << SimdLevelName(level) << " n=" << n;
      }
    }
  }
}

TEST_P(QuantSimdTest, MatMulRowsMatchesScalar) {
  const TensorType type = GetParam();
  std::mt19937 rng(11 + static_cast<int>(type));
  const int elems = Info(type).block_elems;
  const std::vector<int64_t> lengths =
      elems == 1 ? std::vector<int64_t>{13, 640} : std::vector<int64_t>{elems, 3 * elems};
  for (SimdLevel level : test::AvailableLevels()) {
    test::ScopedSimdLevel scoped(level);
    for (int64_t n : lengths) {
      for (int64_t num_rows : {1, 3, 17, 37}) {
        for (int64_t num_tokens : {1, 2, 3, 4, 5, 7}) {
          // Rows padded by 8 bytes and strides beyond n: the kernels must honour them.
          const size_t row_bytes = RowBytes(type, n) + 8;
          std::vector<uint8_t> w(row_bytes * num_rows, 0xAB);
          for (int64_t r = 0; r < num_rows; ++r) {
            const std::vector<uint8_t> row = test::RandomRow(type, n, rng);
            std::copy(row.begin(), row.end(), w.begin() + r * row_bytes);
          }
          const int64_t x_stride = n + 5, y_stride = num_rows + 3;
          const std::vector<float> x = test::RandomFloats(num_tokens * x_stride, rng);
          std::vector<float> y(static_cast<size_t>(num_tokens * y_stride), -7.0f);
          MatMulArgs args{type,     w.data(), row_bytes, n,         x.data(),
                          x_stride, y.data(), y_stride,  num_tokens};
          // Two calls over a split row range, as threads would do.
          const int64_t split = num_rows / 2;
          MatMulRows(args, 0, split);
          MatMulRows(args, split, num_rows);
          for (int64_t t = 0; t < num_tokens; ++t) {
            for (int64_t r = 0; r < num_rows; ++r) {
              const void* row = w.data() + r * row_bytes;
              const float* xt = x.data() + t * x_stride;
              const float want = scalar::DotRow(type, row, xt, n);
              const double bound = Tolerance(AbsDotBound(type, row, xt, n));
              ASSERT_LE(std::fabs(static_cast<double>(y[t * y_stride + r]) - want), bound)
                  << Info(type).name << " at " << SimdLevelName(level) << " n=" << n
                  << " rows=" << num_rows << " tokens=" << num_tokens << " r=" << r << " t=" << t;
            }
            for (int64_t r = num_rows; r < y_stride; ++r) {
              ASSERT_EQ(y[t * y_stride + r], -7.0f) << "wrote outside the row range";
            }
          }
        }
      }
    }
  }
}

// Batch invariance: a token's outputs are the same bits whether it is multiplied alone
// (the matrix-vector path, DotRow) or together with other tokens (the tiled path), at every
// level. The serving engine relies on it: a request's logits must not depend on what else
// is in the batch.
TEST_P(QuantSimdTest, MatMulRowsIsBatchInvariant) {
  const TensorType type = GetParam();
  std::mt19937 rng(13 + static_cast<int>(type));
  const int elems = Info(type).block_elems;
  const std::vector<int64_t> lengths =
      elems == 1 ? std::vector<int64_t>{13, 40, 41, 640} : std::vector<int64_t>{elems, 3 * elems, 640 / elems * elems};
  for (SimdLevel level : test::AvailableLevels()) {
    test::ScopedSimdLevel scoped(level);
    for (int64_t n : lengths) {
      if (n == 0) continue;
      const int64_t num_rows = 19;
      const size_t row_bytes = RowBytes(type, n);
      std::vector<uint8_t> w(row_bytes * num_rows);
      for (int64_t r = 0; r < num_rows; ++r) {
        const std::vector<uint8_t> row = test::RandomRow(type, n, rng);
        std::copy(row.begin(), row.end(), w.begin() + r * row_bytes);
      }
      for (int64_t num_tokens : {2, 3, 4, 5, 9}) {
        const std::vector<float> x = test::RandomFloats(num_tokens * n, rng);
        std::vector<float> batched(static_cast<size_t>(num_tokens * num_rows));
        MatMulRows(MatMulArgs{type, w.data(), row_bytes, n, x.data(), n, batched.data(), num_rows, num_tokens},
                   0, num_rows);
        for (int64_t t = 0; t < num_tokens; ++t) {
          std::vector<float> alone(static_cast<size_t>(num_rows));
          MatMulRows(MatMulArgs{type, w.data(), row_bytes, n, x.data() + t * n, n, alone.data(), num_rows, 1}, 0,
                     num_rows);
          for (int64_t r = 0; r < num_rows; ++r) {
            ASSERT_EQ(alone[r], batched[t * num_rows + r])
                << Info(type).name << " at " << SimdLevelName(level) << " n=" << n << " tokens=" << num_tokens
                << " t=" << t << " r=" << r;
            ASSERT_EQ(alone[r], DotRow(type, w.data() + r * row_bytes, x.data() + t * n, n));
          }
        }
      }
    }
  }
}

std::string TypeParamName(const ::testing::TestParamInfo<TensorType>& info) {
  return Info(info.param).name;
}

INSTANTIATE_TEST_SUITE_P(AllTypes, QuantSimdTest, ::testing::ValuesIn(test::kSupportedTypes),
                         TypeParamName);

}  // namespace
}  // namespace parley
