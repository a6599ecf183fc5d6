#include "kernels/matmul_plan.h"

#include <cstring>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "kernels/quant.h"

namespace parley {
namespace {

// A Q8_0 weight [rows, cols] made from random floats.
struct Weight {
  std::vector<uint8_t> bytes;
  MatrixDesc desc;
};

Weight MakeQ8Weight(int64_t rows, int64_t cols, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  Weight w;
  const size_t row_bytes = RowBytes(TensorType::kQ8_0, cols);
  w.bytes.resize(row_bytes * rows);
  std::vector<float> row(cols);
  for (int64_t r = 0; r < rows; ++r) {
    for (float& v : row) v = u(rng);
    QuantizeRow(TensorType::kQ8_0, row.data(), w.bytes.data() + r * row_bytes, cols);
  }
  w.desc = MatrixDesc{TensorType::kQ8_0, w.bytes.data(), cols, rows, row_bytes, nullptr};
  return w;
}

TEST(MatMulPlan, SharedInputMatchesTheKernelsOneWeightAtATime) {
  const int64_t cols = 256, n = 3;
  Weight a = MakeQ8Weight(96, cols, 1), b = MakeQ8Weight(40, cols, 2);
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> x(n * cols);
  for (float& v : x) v = u(rng);
  ThreadPool pool(2);
  MatMulWorkspace ws;
  for (ActivationMode mode : {ActivationMode::kF32, ActivationMode::kQ8}) {
    auto pa = MakeMatMulPlan(a.desc, mode), pb = MakeMatMulPlan(b.desc, mode);
    std::vector<float> ya(n * 96), yb(n * 40), ea(n * 96), eb(n * 40);
    const MatMulJob jobs[] = {{pa.get(), ya.data()}, {pb.get(), yb.data()}};
    RunMatMuls(jobs, x.data(), n, &ws, &pool);
    if (mode == ActivationMode::kF32) {
      MatMulRows(MatMulArgs{a.desc.type, a.desc.data, a.desc.row_bytes, cols, x.data(), cols, ea.data(), 96, n}, 0, 96);
      MatMulRows(MatMulArgs{b.desc.type, b.desc.data, b.desc.row_bytes, cols, x.data(), cols, eb.data(), 40, n}, 0, 40);
    } else {
      const TensorType act = ActivationTypeFor(TensorType::kQ8_0);
      const size_t rb = RowBytes(act, cols);
      std::vector<uint8_t> xq(rb * n);
      for (int64_t t = 0; t < n; ++t) QuantizeActivationRow(act, x.data() + t * cols, xq.data() + t * rb, cols);
      MatMulRowsQ8(MatMulQ8Args{a.desc.type, a.desc.data, a.desc.row_bytes, cols, xq.data(), rb, ea.data(), 96, n}, 0, 96);
      MatMulRowsQ8(MatMulQ8Args{b.desc.type, b.desc.data, b.desc.row_bytes, cols, xq.data(), rb, eb.data(), 40, n}, 0, 40);
    }
    EXPECT_EQ(0, std::memcmp(ya.data(), ea.data(), ya.size() * sizeof(float)));
    EXPECT_EQ(0, std::memcmp(yb.data(), eb.data(), yb.size() * sizeof(float)));
  }
}

}  // namespace
}  // namespace parley
