// The W8A8 product: every SIMD level and the AMX tiles bit-identical to the scalar reference
// (exact integer block sums, then the same FMAs), the packing and bias against a product in
// double, quantization within half a step, weight conversion from GGUF types, and the
// product close to the f32 one it stands for.
#include "kernels/int8_matmul.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "kernels/cpu.h"
#include "kernels/fp16.h"
#include "kernels/quant.h"

namespace parley {
namespace {

std::vector<float> Random(size_t n, std::mt19937& rng, float lo, float hi) {
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> x(n);
  for (float& v : x) v = dist(rng);
  return x;
}

TEST(Int8MatMulTest, QuantizeRowIsWithinHalfAStepAndPadsWithZeros) {
  std::mt19937 rng(1);
  for (int64_t cols : {1, 63, 64, 65, 640}) {
    std::vector<float> x = Random(cols, rng, -3.0f, 3.0f);
    const int64_t stride = I8Stride(cols);
    std::vector<int8_t> q(stride, 99);
    const float scale = QuantizeRowI8(x.data(), cols, q.data(), stride);
    float amax = 0;
    for (float v : x) amax = std::max(amax, std::fabs(v));
    EXPECT_FLOAT_EQ(scale, amax / 127.0f);
    for (int64_t i = 0; i < cols; ++i) {
      EXPECT_LE(std::abs(q[i]), 127);
      EXPECT_LE(std::fabs(q[i] * scale - x[i]), scale * 0.5f + 1e-6f) << i;
    }
    for (int64_t i = cols; i < stride; ++i) EXPECT_EQ(q[i], 0);
  }
  std::vector<float> zeros(10, 0.0f);
  std::vector<int8_t> q(64);
  EXPECT_EQ(QuantizeRowI8(zeros.data(), 10, q.data(), 64), 0.0f);
  for (int8_t v : q) EXPECT_EQ(v, 0);
}

// A matrix of random int8 rows (the extremes included) and activations.
struct Problem {
  Int8Matrix w;
  std::vector<int8_t> x;
  std::vector<float> x_scale;
  int64_t tokens;
};

Problem MakeProblem(int64_t rows, int64_t cols, int64_t tokens, std::mt19937& rng) {
  Problem p;
  p.tokens = tokens;
  InitInt8Matrix(rows, cols, &p.w);
  std::uniform_int_distribution<int> v(-127, 127);
  std::vector<int8_t> row(p.w.stride, 0);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t i = 0; i < cols; ++i) row[i] = static_cast<int8_t>(i % 17 == 0 ? (r % 2 ? 127 : -127) : v(rng));
    SetInt8Row(r, row.data(), 0.01f + 0.001f * static_cast<float>(r), &p.w);
  }
  p.x.assign(tokens * p.w.stride, 0);
  std::uniform_real_distribution<float> scale(0.001f, 2.0f);
  for (int64_t t = 0; t < tokens; ++t) {
    for (int64_t i = 0; i < cols; ++i) p.x[t * p.w.stride + i] = static_cast<int8_t>(i % 13 == 0 ? -127 : v(rng));
    for (int64_t b = 0; b < p.w.stride / kI8Block; ++b) p.x_scale.push_back(scale(rng));
  }
  return p;
}

// The product in double from the unpacked weights: the packing and the bias are right.
// *magnitude: the same sum of absolute terms, which bounds the float rounding error.
double Exact(const Problem& p, int64_t t, int64_t r, double* magnitude) {
  double acc = 0;
  *magnitude = 0;
  for (int64_t b = 0; b < p.w.blocks(); ++b) {
    int64_t s = 0;
    for (int64_t i = b * kI8Block; i < (b + 1) * kI8Block; ++i) {
      s += static_cast<int64_t>(p.w.at(r, i)) * p.x[t * p.w.stride + i];
    }
    acc += static_cast<double>(s) * p.x_scale[t * p.w.blocks() + b];
    *magnitude += std::fabs(static_cast<double>(s) * p.x_scale[t * p.w.blocks() + b]);
  }
  *magnitude *= p.w.scale[r];
  return acc * p.w.scale[r];
}

// y from MatMulRowsI8 over two row ranges (split at a panel boundary) and from the scalar
// reference; they must be equal bit for bit.
void ExpectMatchesScalar(Problem& p, int64_t rows, const std::string& what) {
  I8MatMulArgs a;
  a.w = &p.w;
  a.x = p.x.data();
  a.x_stride = p.w.stride;
  a.x_scale = p.x_scale.data();
  a.y_stride = rows;
  a.num_tokens = p.tokens;
  std::vector<float> got(p.tokens * rows, -1.0f), want(p.tokens * rows, -2.0f);
  a.y = got.data();
  const int64_t split = rows / 2 / kI8Panel * kI8Panel;
  MatMulRowsI8(a, 0, split);
  MatMulRowsI8(a, split, rows);
  a.y = want.data();
  scalar::MatMulRowsI8(a, 0, rows);
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_EQ(got[i], want[i]) << what << " at " << i;
  }
  for (int64_t t = 0; t < p.tokens; ++t) {
    for (int64_t r = 0; r < rows; ++r) {
      double magnitude = 0;
      const double e = Exact(p, t, r, &magnitude);
      ASSERT_NEAR(want[t * rows + r], e, 1e-5 * magnitude + 1e-30) << what << " token " << t << " row " << r;
    }
  }
}

class Int8LevelTest : public ::testing::TestWithParam<SimdLevel> {
 protected:
  void SetUp() override {
    if (ForceSimdLevel(GetParam()) != GetParam()) GTEST_SKIP() << "level not available";
  }
  void TearDown() override { ForceSimdLevel(DetectedSimdLevel()); }
};

TEST_P(Int8LevelTest, ProductsAreBitIdenticalToTheScalarReference) {
  std::mt19937 rng(2);
  const bool amx = AllowInt8Amx(false);
  for (int64_t rows : {1, 5, 16, 17, 40, 64}) {
    for (int64_t cols : {64, 100, 640, 1000}) {
      for (int64_t tokens : {1, 2, 3, 4, 5, 9}) {
        Problem p = MakeProblem(rows, cols, tokens, rng);
        ExpectMatchesScalar(p, rows, "rows " + std::to_string(rows) + " cols " + std::to_string(cols) + " tokens " +
                                         std::to_string(tokens));
      }
    }
  }
  AllowInt8Amx(amx);
}

// Groups of 16 tokens take the AMX tiles where the CPU has them (the rest VNNI); either
// way the result is the scalar reference's.
TEST_P(Int8LevelTest, TokenGroupsOnTilesAreBitIdenticalToTheScalarReference) {
  if (GetParam() == SimdLevel::kAvx512 && !Int8UsesAmx()) {
    std::printf("note: no AMX here, the 16-token groups run on VNNI\n");
  }
  std::mt19937 rng(5);
  for (int64_t rows : {16, 17, 48, 100}) {
    for (int64_t cols : {64, 640, 1000}) {
      for (int64_t tokens : {16, 17, 31, 32, 33, 50}) {
        Problem p = MakeProblem(rows, cols, tokens, rng);
        ExpectMatchesScalar(p, rows, "rows " + std::to_string(rows) + " cols " + std::to_string(cols) + " tokens " +
                                         std::to_string(tokens));
      }
    }
  }
}

TEST_P(Int8LevelTest, F32ActivationProductsAreBitIdenticalToTheScalarReference) {
  std::mt19937 rng(11);
  for (int64_t rows : {1, 16, 17, 70}) {
    for (int64_t cols : {1, 3, 64, 99, 640}) {
      for (int64_t tokens : {1, 2, 3, 5, 16, 17, 33}) {
        // A head converted from f32 weights: per-block f16 scales, row scales of 1.
        const std::vector<float> wf = Random(rows * cols, rng, -1.0f, 1.0f);
        Problem p;
        InitInt8Matrix(rows, cols, &p.w, /*f32_activations=*/true);
        ConvertRowsToInt8(TensorType::kF32, reinterpret_cast<const uint8_t*>(wf.data()), cols * 4, 0, rows, &p.w);
        const std::vector<float> x = Random(tokens * cols, rng, -3.0f, 3.0f);
        I16Activations xq;
        PrepareActivationsI16(p.w, x.data(), cols, tokens, &xq);
        I8F32MatMulArgs a{&p.w, &xq, nullptr, rows};
        std::vector<float> got(tokens * rows, -1.0f), want(tokens * rows, -2.0f);
        a.y = got.data();
        const int64_t split = rows / 2 / kI8Panel * kI8Panel;
        MatMulRowsI8F32(a, 0, split);
        MatMulRowsI8F32(a, split, rows);
        a.y = want.data();
        scalar::MatMulRowsI8F32(a, 0, rows);
        ASSERT_EQ(got, want) << "rows " << rows << " cols " << cols << " tokens " << tokens;
        for (int64_t t = 0; t < tokens; ++t) {
          for (int64_t r = 0; r < rows; ++r) {
            double e = 0, mag = 0, exact = 0, step = 0, xstep = 0;
            for (int64_t i = 0; i < cols; ++i) {
              const double d = F16ToF32(p.w.head_block_scales(r / kI8Panel, i / kI8HeadBlock)[r % kI8Panel]);
              const double wi = p.w.at(r, i) * d;
              e += wi * x[t * cols + i];
              mag += std::fabs(wi * x[t * cols + i]);
              exact += static_cast<double>(wf[r * cols + i]) * x[t * cols + i];
              step += 0.55 * d * std::fabs(x[t * cols + i]);
              double xmax = 0;  // x's int16 step in this block: max |x| / 32767
              for (int64_t k = i / kI8HeadBlock * kI8HeadBlock; k < std::min(cols, (i / kI8HeadBlock + 1) * kI8HeadBlock); ++k) {
                xmax = std::max(xmax, static_cast<double>(std::fabs(x[t * cols + k])));
              }
              xstep += std::fabs(wi) * 0.5 * xmax / 32767;
            }
            ASSERT_EQ(p.w.scale[r], 1.0f);
            ASSERT_NEAR(want[t * rows + r], e, xstep + 1e-5 * mag + 1e-30);  // x as int16: half a step
            // Q8_0's precision: each weight within half a step (max |w| / 127 of its block).
            ASSERT_NEAR(want[t * rows + r], exact, step + xstep + 1e-5 * mag + 1e-6);
          }
        }
      }
    }
  }
}

TEST_P(Int8LevelTest, ActivationQuantizationIsBitIdenticalToTheScalarReference) {
  std::mt19937 rng(7);
  for (int64_t cols : {1, 7, 64, 100, 640, 1000}) {
    std::vector<float> x = Random(cols, rng, -4.0f, 4.0f);
    if (cols > 64) std::fill(x.begin() + 64, x.begin() + std::min<int64_t>(cols, 128), 0.0f);  // an all-zero block
    x[0] = 0.5f * (x[0] > 0 ? 1 : -1);  // ties and extremes
    const int64_t stride = I8Stride(cols), blocks = stride / kI8Block;
    std::vector<int8_t> got(stride, 1), want(stride, 2);
    std::vector<float> gs(blocks, -1), ws(blocks, -2);
    QuantizeActivationI8(x.data(), cols, got.data(), stride, gs.data());
    scalar::QuantizeActivationI8(x.data(), cols, want.data(), stride, ws.data());
    EXPECT_EQ(got, want) << cols;
    EXPECT_EQ(gs, ws) << cols;
  }
}

INSTANTIATE_TEST_SUITE_P(Levels, Int8LevelTest,
                         ::testing::Values(SimdLevel::kScalar, SimdLevel::kAvx2, SimdLevel::kAvx512),
                         [](const auto& info) { return std::string(SimdLevelName(info.param)); });

TEST(Int8MatMulTest, ActivationBlocksHaveTheirOwnScales) {
  std::vector<float> x(300, 0.01f);
  x[5] = 50.0f;  // an outlier in the first block only
  const int64_t stride = I8Stride(300);
  ASSERT_EQ(stride % kI8Block, 0);
  std::vector<int8_t> q(stride, 9);
  std::vector<float> scales(stride / kI8Block);
  QuantizeActivationI8(x.data(), 300, q.data(), stride, scales.data());
  EXPECT_FLOAT_EQ(scales[0], 50.0f / 127.0f);
  EXPECT_FLOAT_EQ(scales[1], 0.01f / 127.0f);
  EXPECT_EQ(q[kI8Block + 3], 127);  // small values keep full resolution outside the outlier's block
  EXPECT_EQ(q[3], 0);
  EXPECT_EQ(q[5], 127);
  for (int64_t i = 300; i < stride; ++i) EXPECT_EQ(q[i], 0);
}

TEST(Int8MatMulTest, Int16ActivationsRoundHalfAwayFromZeroInPairOrder) {
  std::vector<float> x(40, 0.0f);
  x[0] = 32767.0f;  // the block's max: a scale of 1, so the values below are exact ties
  x[1] = -32767.0f;
  x[2] = 0.5f;      // a tie: away from zero, 1
  x[3] = -0.5f;     // -1
  x[5] = -100.4f;   // -100
  x[33] = 3.0f;     // the second block: its own scale
  std::vector<int16_t> q(I8Stride(40), 7);
  std::vector<float> scales(2);
  QuantizeActivationI16(x.data(), 40, q.data(), scales.data());
  EXPECT_FLOAT_EQ(scales[0], 1.0f);
  EXPECT_FLOAT_EQ(scales[1], 3.0f / 32767.0f);
  // Each group of 4 is stored as (x0, x2, x1, x3).
  EXPECT_EQ(q[0], 32767);
  EXPECT_EQ(q[1], 1);
  EXPECT_EQ(q[2], -32767);
  EXPECT_EQ(q[3], -1);
  EXPECT_EQ(q[6], -100);  // x[5]: second pair slot of group 1
  EXPECT_EQ(q[34], 32767);  // x[33]
  for (size_t i = 40; i < q.size(); ++i) EXPECT_EQ(q[i], 0) << i;
}

TEST(Int8MatMulTest, Int16ActivationsQuantizedInTokenRangesMatchOnePass) {
  std::mt19937 rng(13);
  const int64_t rows = 32, cols = 200, tokens = 37;  // two 16-token groups for AMX, and a tail
  Int8Matrix w;
  InitInt8Matrix(rows, cols, &w, /*f32_activations=*/true);
  const std::vector<float> x = Random(tokens * cols, rng, -3.0f, 3.0f);
  I16Activations one, split;
  PrepareActivationsI16(w, x.data(), cols, tokens, &one);
  SizeActivationsI16(w, tokens, &split);
  const int64_t ranges[][2] = {{16, 30}, {0, 5}, {30, tokens}, {5, 16}};  // any order, as threads finish
  for (const auto& r : ranges) QuantizeActivationsI16(w, x.data(), cols, r[0], r[1], &split);
  EXPECT_EQ(split.num_tokens, one.num_tokens);
  EXPECT_EQ(split.q, one.q);
  EXPECT_EQ(split.scales, one.scales);
  EXPECT_EQ(split.tiled, one.tiled);
  EXPECT_EQ(split.hi, one.hi);
  EXPECT_EQ(split.lo, one.lo);
}

TEST(Int8MatMulTest, ConvertedWeightsAndProductsTrackTheOriginals) {
  std::mt19937 rng(3);
  const int64_t rows = 24, cols = 256, tokens = 3;
  const std::vector<float> wf = Random(rows * cols, rng, -1.0f, 1.0f);
  for (TensorType type : {TensorType::kF32, TensorType::kQ8_0, TensorType::kQ4_K}) {
    const size_t row_bytes = RowBytes(type, cols);
    std::vector<uint8_t> data(row_bytes * rows);
    for (int64_t r = 0; r < rows; ++r) {
      ASSERT_TRUE(QuantizeRow(type, wf.data() + r * cols, data.data() + r * row_bytes, cols));
    }
    Int8Matrix w;
    InitInt8Matrix(rows, cols, &w);
    ConvertRowsToInt8(type, data.data(), row_bytes, 0, rows, &w);
    std::vector<float> deq(cols);
    for (int64_t r = 0; r < rows; ++r) {
      DequantizeRow(type, data.data() + r * row_bytes, deq.data(), cols);
      for (int64_t i = 0; i < cols; ++i) {
        EXPECT_LE(std::fabs(w.at(r, i) * w.scale[r] - deq[i]), 0.5f * w.scale[r] + 1e-6f);
      }
    }
    // The product against f32 activations quantized per token: within 2% of the row norm
    // times the activation norm (each side is off by at most half a step per element).
    const std::vector<float> x = Random(tokens * cols, rng, -2.0f, 2.0f);
    std::vector<int8_t> xq(tokens * w.stride);
    const int64_t blocks = w.stride / kI8Block;
    std::vector<float> xs(tokens * blocks);
    for (int64_t t = 0; t < tokens; ++t) {
      QuantizeActivationI8(x.data() + t * cols, cols, xq.data() + t * w.stride, w.stride, xs.data() + t * blocks);
    }
    std::vector<float> y(tokens * rows);
    MatMulRowsI8(I8MatMulArgs{&w, xq.data(), w.stride, xs.data(), y.data(), rows, tokens}, 0, rows);
    for (int64_t t = 0; t < tokens; ++t) {
      for (int64_t r = 0; r < rows; ++r) {
        DequantizeRow(type, data.data() + r * row_bytes, deq.data(), cols);
        double exact = 0, wn = 0, xn = 0;
        for (int64_t i = 0; i < cols; ++i) {
          exact += static_cast<double>(deq[i]) * x[t * cols + i];
          wn += deq[i] * deq[i];
          xn += x[t * cols + i] * x[t * cols + i];
        }
        EXPECT_NEAR(y[t * rows + r], exact, 0.02 * std::sqrt(wn * xn)) << TypeName(static_cast<uint32_t>(type));
      }
    }
  }
}

}  // namespace
}  // namespace parley
