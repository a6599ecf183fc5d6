// Packed products at the file's bits: the repack reproduces the scalar dequantizer's value
// of every weight of every packable type exactly; every SIMD level is bit-identical to the
// scalar reference; the product is the sum the repacked values and 16-bit activations stand
// for (checked in double) and close to the f32 product.
#include "kernels/packed_matmul.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "kernels/cpu.h"
#include "kernels/fp16.h"
#include "kernels/quant.h"

namespace parley {
namespace {

constexpr TensorType kTypes[] = {TensorType::kQ4_0, TensorType::kQ4_1, TensorType::kQ4_K, TensorType::kQ5_0,
                                 TensorType::kQ5_K, TensorType::kQ6_K, TensorType::kQ8_0};

std::string Name(TensorType t) { return TypeName(static_cast<uint32_t>(t)); }

void PutHalf(uint8_t* p, float v) {
  const uint16_t h = F32ToF16(v);
  std::memcpy(p, &h, 2);
}

// Random bytes for every field (so every code, sub-block scale and min occurs), with the
// f16 scales set to finite values of either sign: a GGUF weight as the file holds it.
std::vector<uint8_t> RandomRows(TensorType type, int64_t rows, int64_t cols, std::mt19937& rng) {
  const size_t row_bytes = RowBytes(type, cols);
  std::vector<uint8_t> data(row_bytes * rows);
  for (uint8_t& b : data) b = static_cast<uint8_t>(rng());
  std::uniform_real_distribution<float> scale(-0.05f, 0.05f);
  const TypeInfo* info = FindTypeInfo(static_cast<uint32_t>(type));
  for (size_t at = 0; at < data.size(); at += info->block_bytes) {
    uint8_t* b = data.data() + at;
    switch (type) {
      case TensorType::kQ4_1:
      case TensorType::kQ4_K:
      case TensorType::kQ5_K: PutHalf(b, scale(rng)); PutHalf(b + 2, scale(rng)); break;
      case TensorType::kQ6_K: PutHalf(b + 208, scale(rng)); break;
      default: PutHalf(b, scale(rng)); break;
    }
  }
  return data;
}

PackedMatrix Pack(TensorType type, const std::vector<uint8_t>& data, int64_t rows, int64_t cols) {
  PackedMatrix w;
  InitPackedMatrix(type, rows, cols, &w);
  // Two ranges, split at a panel boundary, as the loader's threads split them.
  const int64_t mid = rows / 2 / kPackPanel * kPackPanel;
  PackRows(data.data(), RowBytes(type, cols), 0, mid, &w);
  PackRows(data.data(), RowBytes(type, cols), mid, rows, &w);
  return w;
}

TEST(PackedMatMulTest, RepackReproducesTheFilesValuesBitForBit) {
  std::mt19937 rng(7);
  for (TensorType type : kTypes) {
    const int64_t rows = 37, cols = 512;
    const std::vector<uint8_t> data = RandomRows(type, rows, cols, rng);
    const PackedMatrix w = Pack(type, data, rows, cols);
    std::vector<float> ref(cols);
    int64_t mismatches = 0;
    for (int64_t r = 0; r < rows; ++r) {
      scalar::DequantizeRow(type, data.data() + r * RowBytes(type, cols), ref.data(), cols);
      for (int64_t i = 0; i < cols; ++i) {
        const float got = RepackedValue(w, r, i);
        uint32_t a, b;
        std::memcpy(&a, &got, 4);
        std::memcpy(&b, &ref[i], 4);
        // Bit for bit, except that Q4_0's code 8 gives +0 here where (8 - 8) * d gives -0
        // for a negative d: the same value in every product.
        if (a != b && !(got == 0.0f && ref[i] == 0.0f)) ++mismatches;
      }
    }
    EXPECT_EQ(mismatches, 0) << Name(type);
  }
}

TEST(PackedMatMulTest, PackedMatricesAreAboutTheFilesSize) {
  // Q4_1 and Q8_0 are exactly the file's bytes; Q4_0 and Q5_0 add a min per block, K-types
  // carry f32 scales, and Q6_K's 6-bit codes take a byte each (the most: 1.52x).
  std::mt19937 rng(3);
  for (TensorType type : kTypes) {
    const int64_t rows = 64, cols = 256;
    const PackedMatrix w = Pack(type, RandomRows(type, rows, cols, rng), rows, cols);
    const double file = static_cast<double>(RowBytes(type, cols) * rows);
    const double ratio = w.bytes() / file;
    if (type == TensorType::kQ4_1 || type == TensorType::kQ8_0) {
      EXPECT_DOUBLE_EQ(ratio, 1.0) << Name(type);
    }
    EXPECT_LE(ratio, 1.53) << Name(type);
  }
}

struct Problem {
  PackedMatrix w;
  std::vector<float> x;
  PackedActivations xa;
};

Problem MakeProblem(TensorType type, int64_t rows, int64_t cols, int64_t tokens, std::mt19937& rng) {
  Problem p;
  p.w = Pack(type, RandomRows(type, rows, cols, rng), rows, cols);
  std::uniform_real_distribution<float> dist(-2.0f, 2.0f);
  p.x.resize(static_cast<size_t>(tokens * cols));
  for (float& v : p.x) v = dist(rng);
  // An outlier channel and an all-zero block, as norm outputs have.
  for (int64_t t = 0; t < tokens; ++t) {
    p.x[t * cols + 5] = 40.0f;
    for (int64_t i = 32; i < 64; ++i) p.x[t * cols + i] = 0.0f;
  }
  SizePackedActivations(cols, tokens, &p.xa);
  QuantizePackedActivations(p.x.data(), cols, 0, tokens, &p.xa);
  return p;
}

std::vector<float> Product(void (*fn)(const PackedMatMulArgs&, int64_t, int64_t), const Problem& p, int64_t r0,
                       int64_t r1) {
  std::vector<float> y(static_cast<size_t>(p.xa.num_tokens * p.w.rows), -7.0f);
  fn(PackedMatMulArgs{&p.w, &p.xa, y.data(), p.w.rows}, r0, r1);
  return y;
}

TEST(PackedMatMulTest, ScalarProductIsTheSumItStandsFor) {
  std::mt19937 rng(11);
  for (TensorType type : kTypes) {
    const int64_t rows = 21, cols = 256, tokens = 2;
    const Problem p = MakeProblem(type, rows, cols, tokens, rng);
    const std::vector<float> y = Product(scalar::MatMulRowsPacked, p, 0, rows);
    // The pair order: un-permute the activations through the documented layout.
    for (int64_t t = 0; t < tokens; ++t) {
      for (int64_t r = 0; r < rows; ++r) {
        double want = 0.0, exact = 0.0, mag = 0.0;
        for (int64_t i = 0; i < cols; ++i) {
          const int64_t b = i / 32, c = i % 32, l = c / 8, jj = c % 8;
          const int16_t q = p.xa.q[static_cast<size_t>(t * cols + b * 32 + 2 * (4 * l + jj % 4) + jj / 4)];
          const double w = RepackedValue(p.w, r, i);
          want += w * (static_cast<double>(q) * p.xa.scale[static_cast<size_t>(t * p.w.blocks + b)]);
          exact += w * p.x[static_cast<size_t>(t * cols + i)];
          mag += std::fabs(w * p.x[static_cast<size_t>(t * cols + i)]);
        }
        const float got = y[static_cast<size_t>(t * rows + r)];
        EXPECT_NEAR(got, want, 1e-5 * mag + 1e-6) << Name(type) << " t=" << t << " r=" << r;
        EXPECT_NEAR(got, exact, 2e-4 * mag + 1e-6) << Name(type) << " t=" << t << " r=" << r;
      }
    }
  }
}

TEST(PackedMatMulTest, EveryLevelIsBitIdenticalToScalar) {
  std::mt19937 rng(5);
  const SimdLevel detected = DetectedSimdLevel();
  if (detected < SimdLevel::kAvx2) GTEST_SKIP() << "no AVX2 here";
  for (TensorType type : kTypes) {
    for (int64_t tokens : {1, 2, 3, 4, 7}) {
      for (int64_t rows : {16, 37, 80}) {
        const int64_t cols = 512;
        const Problem p = MakeProblem(type, rows, cols, tokens, rng);
        const std::vector<float> ref = Product(scalar::MatMulRowsPacked, p, 0, rows);
        EXPECT_EQ(Product(avx2::MatMulRowsPacked, p, 0, rows), ref) << Name(type) << " avx2 " << tokens << "x" << rows;
        if (detected == SimdLevel::kAvx512 && CpuHasAvx512Vnni()) {
          EXPECT_EQ(Product(vnni::MatMulRowsPacked, p, 0, rows), ref) << Name(type) << " vnni " << tokens << "x" << rows;
        }
        // A row range from a panel boundary leaves the rest untouched.
        if (rows > 16) {
          std::vector<float> part = Product(MatMulRowsPacked, p, 16, rows);
          for (int64_t t = 0; t < tokens; ++t) {
            for (int64_t r = 0; r < rows; ++r) {
              const float want = r < 16 ? -7.0f : ref[static_cast<size_t>(t * rows + r)];
              ASSERT_EQ(part[static_cast<size_t>(t * rows + r)], want) << Name(type) << " r=" << r;
            }
          }
        }
      }
    }
  }
}

TEST(PackedMatMulTest, BatchedTokensEqualTokensAlone) {
  std::mt19937 rng(9);
  for (TensorType type : {TensorType::kQ4_1, TensorType::kQ6_K}) {
    const int64_t rows = 48, cols = 256, tokens = 5;
    const Problem p = MakeProblem(type, rows, cols, tokens, rng);
    const std::vector<float> batched = Product(MatMulRowsPacked, p, 0, rows);
    for (int64_t t = 0; t < tokens; ++t) {
      PackedActivations one;
      SizePackedActivations(cols, 1, &one);
      QuantizePackedActivations(p.x.data() + t * cols, cols, 0, 1, &one);
      std::vector<float> y(rows);
      MatMulRowsPacked(PackedMatMulArgs{&p.w, &one, y.data(), rows}, 0, rows);
      for (int64_t r = 0; r < rows; ++r) ASSERT_EQ(y[r], batched[static_cast<size_t>(t * rows + r)]) << t << " " << r;
    }
  }
}

}  // namespace
}  // namespace parley
