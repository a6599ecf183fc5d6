// The int8-activation path: activation quantizers against straightforward re-implementations
// of ggml's formulas (bit-exact bytes), scalar DotRowQ8 against a double-precision sum of
// dequantized weights times dequantized activations, and every SIMD level against scalar.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernels/cpu.h"
#include "kernels/fp16.h"
#include "kernels/quant.h"
#include "kernels/quant_test_util.h"
#include "kernels/tensor_type.h"

namespace parley {
namespace {

using test::Info;

constexpr TensorType kQ8Types[] = {
    TensorType::kQ4_0, TensorType::kQ4_1, TensorType::kQ5_0, TensorType::kQ5_1, TensorType::kQ8_0,
    TensorType::kQ2_K, TensorType::kQ3_K, TensorType::kQ4_K, TensorType::kQ5_K, TensorType::kQ6_K,
};

// ---- Reference activation quantizers, written from the formulas -----------------------------

void PutHalf(std::vector<uint8_t>& out, float v) {
  const uint16_t h = F32ToF16(v);
  out.push_back(static_cast<uint8_t>(h & 0xFF));
  out.push_back(static_cast<uint8_t>(h >> 8));
}

std::vector<uint8_t> RefQuantize(TensorType act, const std::vector<float>& x) {
  std::vector<uint8_t> out;
  const int64_t n = static_cast<int64_t>(x.size());
  if (act == TensorType::kQ8_0 || act == TensorType::kQ8_1) {
    for (int64_t b = 0; b < n; b += 32) {
      float amax = 0.0f;
      for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[b + j]));
      const float d = amax / 127.0f;
      const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
      std::vector<int8_t> q(32);
      int sum = 0;
      for (int j = 0; j < 32; ++j) {
        const float v = x[b + j] * id;
        q[j] = static_cast<int8_t>(std::nearbyint(v));  // default mode: ties to even
        sum += q[j];
      }
      PutHalf(out, d);
      if (act == TensorType::kQ8_1) PutHalf(out, d * static_cast<float>(sum));
      for (int8_t v : q) out.push_back(static_cast<uint8_t>(v));
    }
    return out;
  }
  // Q8_K
  for (int64_t b = 0; b < n; b += 256) {
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < 256; ++j) {
      if (std::fabs(x[b + j]) > amax) {
        amax = std::fabs(x[b + j]);
        max = x[b + j];
      }
    }
    std::vector<int8_t> q(256, 0);
    float d = 0.0f;
    if (amax != 0.0f) {
      const float iscale = -127.0f / max;
      for (int j = 0; j < 256; ++j) {
        const float v = iscale * x[b + j];
        q[j] = static_cast<int8_t>(std::min(127, static_cast<int>(std::nearbyint(v))));
      }
      d = 1.0f / iscale;
    }
    uint8_t db[4];
    std::memcpy(db, &d, 4);
    out.insert(out.end(), db, db + 4);
    for (int8_t v : q) out.push_back(static_cast<uint8_t>(v));
    for (int g = 0; g < 16; ++g) {
      int16_t s = 0;
      for (int l = 0; l < 16; ++l) s = static_cast<int16_t>(s + q[16 * g + l]);
      out.push_back(static_cast<uint8_t>(static_cast<uint16_t>(s) & 0xFF));
      out.push_back(static_cast<uint8_t>(static_cast<uint16_t>(s) >> 8));
    }
  }
  return out;
}

void ExpectQuantizeMatches(TensorType act, const std::vector<float>& x, const char* what) {
  const std::vector<uint8_t> want = RefQuantize(act, x);
  ASSERT_EQ(want.size(), RowBytes(act, static_cast<int64_t>(x.size())));
  for (SimdLevel level : test::AvailableLevels()) {
    test::ScopedSimdLevel scoped(level);
    std::vector<uint8_t> got(want.size(), 0xCD);
    QuantizeActivationRow(act, x.data(), got.data(), static_cast<int64_t>(x.size()));
    ASSERT_EQ(got, want) << Info(act).name << " " << what << " at " << SimdLevelName(level);
  }
  std::vector<uint8_t> got(want.size(), 0xCD);
  scalar::QuantizeActivationRow(act, x.data(), got.data(), static_cast<int64_t>(x.size()));
  ASSERT_EQ(got, want) << Info(act).name << " " << what << " scalar";
}

TEST(QuantQ8Test, ActivationTypeFor) {
  EXPECT_EQ(ActivationTypeFor(TensorType::kQ4_0), TensorType::kQ8_0);
  EXPECT_EQ(ActivationTypeFor(TensorType::kQ5_0), TensorType::kQ8_0);
  EXPECT_EQ(ActivationTypeFor(TensorType::kQ8_0), TensorType::kQ8_0);
  EXPECT_EQ(ActivationTypeFor(TensorType::kQ4_1), TensorType::kQ8_1);
  EXPECT_EQ(ActivationTypeFor(TensorType::kQ5_1), TensorType::kQ8_1);
  for (TensorType t : {TensorType::kQ2_K, TensorType::kQ3_K, TensorType::kQ4_K, TensorType::kQ5_K,
                       TensorType::kQ6_K}) {
    EXPECT_EQ(ActivationTypeFor(t), TensorType::kQ8_K);
  }
  for (TensorType t : {TensorType::kF32, TensorType::kF16, TensorType::kBF16}) {
    EXPECT_EQ(ActivationTypeFor(t), TensorType::kF32);
  }
}

TEST(QuantQ8Test, QuantizeMatchesFormulas) {
  std::mt19937 rng(3);
  for (TensorType act : {TensorType::kQ8_0, TensorType::kQ8_1, TensorType::kQ8_K}) {
    const int block = Info(act).block_elems;
    for (int64_t n : {block, 2 * block, 5 * block, 4096}) {
      if (n % block != 0) continue;
      for (float scale : {1.0f, 1e-3f, 37.0f}) {
        std::vector<float> x = test::RandomFloats(n, rng, -scale, scale);
        ExpectQuantizeMatches(act, x, "random");
        // A zero block in the middle.
        if (n >= 2 * block) {
          std::fill(x.begin() + block, x.begin() + 2 * block, 0.0f);
          ExpectQuantizeMatches(act, x, "zero block");
        }
      }
    }
    ExpectQuantizeMatches(act, std::vector<float>(static_cast<size_t>(block), 0.0f), "all zero");
  }
}

TEST(QuantQ8Test, QuantizeTiesRoundToEven) {
  for (TensorType act : {TensorType::kQ8_0, TensorType::kQ8_1, TensorType::kQ8_K}) {
    const int block = Info(act).block_elems;
    for (float max : {127.0f, -127.0f}) {
      // |max| = 127 makes the scale exactly 1 (Q8_K: iscale = -127/max = -+1), so every
      // x.5 below is an exact tie.
      std::vector<float> x(static_cast<size_t>(block));
      for (int j = 0; j < block; ++j) x[j] = static_cast<float>(j % 40 - 20) + 0.5f;
      x[block / 2] = max;
      ExpectQuantizeMatches(act, x, max > 0 ? "ties, max > 0" : "ties, max < 0");
      std::vector<uint8_t> q(RowBytes(act, block));
      QuantizeActivationRow(act, x.data(), q.data(), block);
      const int qs = act == TensorType::kQ8_0 ? 2 : 4;
      const float sign = act == TensorType::kQ8_K ? -max / 127.0f : 1.0f;
      // x[0] = -19.5 -> -20 (even); x[1] = -18.5 -> -18; x[21] = 1.5 -> 2; x[20] = 0.5 -> 0.
      EXPECT_EQ(static_cast<int8_t>(q[qs + 0]), static_cast<int8_t>(sign * -20));
      EXPECT_EQ(static_cast<int8_t>(q[qs + 1]), static_cast<int8_t>(sign * -18));
      EXPECT_EQ(static_cast<int8_t>(q[qs + 20]), 0);
      EXPECT_EQ(static_cast<int8_t>(q[qs + 21]), static_cast<int8_t>(sign * 2));
    }
  }
  // Q8_K with a negative max: iscale = -127/max > 0, the max element quantizes to -127.
  std::mt19937 rng(5);
  std::vector<float> x = test::RandomFloats(512, rng, -1.0f, 1.0f);
  x[7] = -3.0f;
  x[300] = -2.0f;
  ExpectQuantizeMatches(TensorType::kQ8_K, x, "negative max");
  std::vector<uint8_t> q(RowBytes(TensorType::kQ8_K, 512));
  QuantizeActivationRow(TensorType::kQ8_K, x.data(), q.data(), 512);
  EXPECT_EQ(static_cast<int8_t>(q[4 + 7]), -127);
  float d;
  std::memcpy(&d, q.data(), 4);
  EXPECT_GT(d, 0.0f);  // d = 1 / iscale = max / -127
}

// ---- Dot products -----------------------------------------------------------------------------

struct DotCase {
  std::vector<uint8_t> w;
  std::vector<float> x;
  std::vector<uint8_t> xq;
};

DotCase MakeCase(TensorType type, int64_t n, std::mt19937& rng, bool random_bytes) {
  DotCase c;
  if (random_bytes) {
    c.w = test::RandomRow(type, n, rng);
  } else {
    const std::vector<float> src = test::RandomFloats(n, rng, -1.5f, 1.0f);
    c.w.resize(RowBytes(type, n));
    EXPECT_TRUE(QuantizeRow(type, src.data(), c.w.data(), n));
  }
  c.x = test::RandomFloats(n, rng, -2.0f, 2.0f);
  const TensorType act = ActivationTypeFor(type);
  c.xq.resize(RowBytes(act, n));
  scalar::QuantizeActivationRow(act, c.x.data(), c.xq.data(), n);
  return c;
}

float HalfAt(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return F16ToF32(h);
}

// Double-precision sum_i dequant(w)[i] * dequant(xq)[i], and sum_i |...| into *abs_sum.
// For Q8_1 the sum of one block's activations is its stored s rather than d * sum(q), as in
// ggml: the mins term m_w * d_x * sum(q) is replaced by m_w * s_x.
double RefDot(TensorType type, const void* row, const uint8_t* xq, int64_t n, double* abs_sum) {
  std::vector<float> w(static_cast<size_t>(n));
  scalar::DequantizeRow(type, row, w.data(), n);
  const TensorType act = ActivationTypeFor(type);
  const int block = Info(act).block_elems;
  const int block_bytes = Info(act).block_bytes;
  double sum = 0.0, abs = 0.0;
  for (int64_t b = 0; b < n / block; ++b) {
    const uint8_t* xb = xq + b * block_bytes;
    double d;
    const int8_t* q;
    if (act == TensorType::kQ8_K) {
      float f;
      std::memcpy(&f, xb, 4);
      d = f;
      q = reinterpret_cast<const int8_t*>(xb + 4);
    } else {
      d = HalfAt(xb);
      q = reinterpret_cast<const int8_t*>(xb + (act == TensorType::kQ8_1 ? 4 : 2));
    }
    int qsum = 0;
    for (int j = 0; j < block; ++j) {
      const double p = static_cast<double>(w[b * block + j]) * (d * q[j]);
      sum += p;
      abs += std::fabs(p);
      qsum += q[j];
    }
    if (act == TensorType::kQ8_1) {
      const int w_bytes = Info(type).block_bytes;
      const double m = HalfAt(static_cast<const uint8_t*>(row) + b * w_bytes + 2);
      sum += m * (HalfAt(xb + 2) - d * qsum);
    }
  }
  *abs_sum = abs;
  return sum;
}

class QuantQ8DotTest : public ::testing::TestWithParam<TensorType> {};

TEST_P(QuantQ8DotTest, ScalarMatchesDequantizedSum) {
  const TensorType type = GetParam();
  std::mt19937 rng(17 + static_cast<int>(type));
  const int elems = Info(type).block_elems;
  for (int64_t n : {elems, 3 * elems, elems == 32 ? 640 : 1024, elems == 32 ? 4096 : 4096}) {
    for (bool random_bytes : {false, true}) {
      for (int trial = 0; trial < 4; ++trial) {
        const DotCase c = MakeCase(type, n, rng, random_bytes);
        double abs_sum;
        const double want = RefDot(type, c.w.data(), c.xq.data(), n, &abs_sum);
        const float got = scalar::DotRowQ8(type, c.w.data(), c.xq.data(), n);
        ASSERT_LE(std::fabs(got - want), 1e-5 * abs_sum + 1e-6)
            << Info(type).name << " n=" << n << " random_bytes=" << random_bytes
            << " want=" << want << " got=" << got;
      }
    }
  }
}

// The int8 path approximates the f32 dot: the activation rounding error is at most half a
// step per element.
TEST_P(QuantQ8DotTest, CloseToFloatDot) {
  const TensorType type = GetParam();
  std::mt19937 rng(23 + static_cast<int>(type));
  const int64_t n = 4096;
  const DotCase c = MakeCase(type, n, rng, false);
  std::vector<float> w(static_cast<size_t>(n));
  scalar::DequantizeRow(type, c.w.data(), w.data(), n);
  double abs_wx = 0.0;
  for (int64_t i = 0; i < n; ++i) abs_wx += std::fabs(static_cast<double>(w[i]) * c.x[i]);
  const float f32 = scalar::DotRow(type, c.w.data(), c.x.data(), n);
  const float q8 = DotRowQ8(type, c.w.data(), c.xq.data(), n);
  EXPECT_LE(std::fabs(q8 - f32), 0.02 * abs_wx) << Info(type).name;
}

double Tolerance(double abs_dot) { return 1e-4 * abs_dot + 1e-5; }

TEST_P(QuantQ8DotTest, SimdDotMatchesScalar) {
  const TensorType type = GetParam();
  std::mt19937 rng(29 + static_cast<int>(type));
  const int elems = Info(type).block_elems;
  const std::vector<int64_t> lengths =
      elems == 32 ? std::vector<int64_t>{32, 64, 96, 160, 576, 640, 2048}
                  : std::vector<int64_t>{256, 512, 768, 1024, 2560};
  for (SimdLevel level : test::AvailableLevels()) {
    test::ScopedSimdLevel scoped(level);
    for (int64_t n : lengths) {
      for (int trial = 0; trial < 4; ++trial) {
        const DotCase c = MakeCase(type, n, rng, trial % 2 == 1);
        double abs_sum;
        RefDot(type, c.w.data(), c.xq.data(), n, &abs_sum);
        const float want = scalar::DotRowQ8(type, c.w.data(), c.xq.data(), n);
        const float got = DotRowQ8(type, c.w.data(), c.xq.data(), n);
        ASSERT_LE(std::fabs(static_cast<double>(got) - want), Tolerance(abs_sum))
            << Info(type).name << " at " << SimdLevelName(level) << " n=" << n;
      }
    }
  }
}

TEST_P(QuantQ8DotTest, SimdMatMulRowsMatchesScalar) {
  const TensorType type = GetParam();
  std::mt19937 rng(31 + static_cast<int>(type));
  const int elems = Info(type).block_elems;
  const TensorType act = ActivationTypeFor(type);
  const std::vector<int64_t> lengths = elems == 32 ? std::vector<int64_t>{32, 96, 2048}
                                                   : std::vector<int64_t>{256, 768, 4096};
  for (SimdLevel level : test::AvailableLevels()) {
    test::ScopedSimdLevel scoped(level);
    for (int64_t n : lengths) {
      for (int64_t num_rows : {1, 3, 17, 37}) {
        for (int64_t num_tokens : {1, 2, 3, 4, 5, 7, 9}) {
          if (n >= 2048 && num_rows == 17) continue;  // keep the test quick
          // Rows padded by 8 bytes, activation rows by 12: the kernels must honour strides.
          const size_t row_bytes = RowBytes(type, n) + 8;
          std::vector<uint8_t> w(row_bytes * num_rows, 0xAB);
          for (int64_t r = 0; r < num_rows; ++r) {
            const std::vector<uint8_t> row = test::RandomRow(type, n, rng);
            std::copy(row.begin(), row.end(), w.begin() + r * row_bytes);
          }
          const size_t xq_row_bytes = RowBytes(act, n) + 12;
          std::vector<uint8_t> xq(xq_row_bytes * num_tokens, 0xEE);
          for (int64_t t = 0; t < num_tokens; ++t) {
            const std::vector<float> x = test::RandomFloats(n, rng, -3.0f, 3.0f);
            scalar::QuantizeActivationRow(act, x.data(), xq.data() + t * xq_row_bytes, n);
          }
          const int64_t y_stride = num_rows + 3;
          std::vector<float> y(static_cast<size_t>(num_tokens * y_stride), -7.0f);
          MatMulQ8Args args{type, w.data(), row_bytes, n, xq.data(), xq_row_bytes,
                            y.data(), y_stride, num_tokens};
          const int64_t split = num_rows / 2;
          MatMulRowsQ8(args, 0, split);
          MatMulRowsQ8(args, split, num_rows);
          for (int64_t t = 0; t < num_tokens; ++t) {
            const uint8_t* xt = xq.data() + t * xq_row_bytes;
            for (int64_t r = 0; r < num_rows; ++r) {
              const uint8_t* row = w.data() + r * row_bytes;
              double abs_sum;
              RefDot(type, row, xt, n, &abs_sum);
              const float want = scalar::DotRowQ8(type, row, xt, n);
              ASSERT_LE(std::fabs(static_cast<double>(y[t * y_stride + r]) - want),
                        Tolerance(abs_sum))
                  << Info(type).name << " at " << SimdLevelName(level) << " n=" << n
                  << " rows=" << num_rows << " tokens=" << num_tokens << " r=" << r
                  << " t=" << t;
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

std::string TypeParamName(const ::testing::TestParamInfo<TensorType>& info) {
  return Info(info.param).name;
}

INSTANTIATE_TEST_SUITE_P(AllTypes, QuantQ8DotTest, ::testing::ValuesIn(kQ8Types), TypeParamName);

}  // namespace
}  // namespace parley
