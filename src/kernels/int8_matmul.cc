// The W8A8 product's scalar reference, conversions, and dispatch (int8_matmul.h).
#include "kernels/int8_matmul.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/cpu.h"
#include "kernels/int8_matmul_internal.h"
#include "kernels/quant.h"

namespace parley {

float QuantizeRowI8(const float* x, int64_t cols, int8_t* q, int64_t stride) {
  float amax = 0.0f;
  for (int64_t i = 0; i < cols; ++i) amax = std::max(amax, std::fabs(x[i]));
  const float scale = amax / 127.0f;
  const float inv = amax > 0.0f ? 127.0f / amax : 0.0f;
  for (int64_t i = 0; i < cols; ++i) {
    const float v = x[i] * inv;
    int32_t r = static_cast<int32_t>(v >= 0.0f ? v + 0.5f : v - 0.5f);
    q[i] = static_cast<int8_t>(std::clamp(r, -127, 127));
  }
  for (int64_t i = cols; i < stride; ++i) q[i] = 0;
  return scale;
}

void QuantizeActivationI8(const float* x, int64_t cols, int8_t* q, int64_t stride, float* scales) {
  for (int64_t b = 0; b * kI8Block < stride; ++b) {
    const int64_t begin = b * kI8Block;
    const int64_t n = std::max<int64_t>(0, std::min(cols - begin, kI8Block));
    scales[b] = QuantizeRowI8(x + begin, n, q + begin, kI8Block);
  }
}

void InitInt8Rows(int64_t rows, int64_t cols, Int8Rows* out) {
  out->rows = rows;
  out->cols = cols;
  out->stride = I8Stride(cols);
  out->q.assign(static_cast<size_t>(rows * out->stride), 0);
  out->scale.assign(rows, 0.0f);
}

void ConvertRowsToInt8(TensorType type, const uint8_t* data, size_t row_bytes, int64_t row_begin, int64_t row_end,
                       Int8Rows* out) {
  std::vector<float> row(out->cols);
  for (int64_t r = row_begin; r < row_end; ++r) {
    DequantizeRow(type, data + r * row_bytes, row.data(), out->cols);
    int8_t* q = out->q.data() + r * out->stride;
    out->scale[r] = QuantizeRowI8(row.data(), out->cols, q, out->stride);
  }
}

namespace scalar {
void MatMulRowsI8(const I8MatMulArgs& a, int64_t row_begin, int64_t row_end) {
  const Int8Rows& w = *a.w;
  const int64_t blocks = w.stride / kI8Block;
  for (int64_t t = 0; t < a.num_tokens; ++t) {
    const int8_t* x = a.x + t * a.x_stride;
    const float* xs = a.x_scale + t * (a.x_stride / kI8Block);
    for (int64_t r = row_begin; r < row_end; ++r) {
      const int8_t* q = w.q.data() + r * w.stride;
      float lane[16] = {};
      for (int64_t b = 0; b < blocks; ++b) {
        int32_t sums[16] = {};
        for (int64_t i = b * kI8Block; i < (b + 1) * kI8Block; ++i) {
          sums[(i % 64) / 4] += static_cast<int32_t>(q[i]) * x[i];
        }
        for (int j = 0; j < 16; ++j) lane[j] = std::fma(static_cast<float>(sums[j]), xs[b], lane[j]);
      }
      a.y[t * a.y_stride + r] = SumLanes16(lane) * w.scale[r];
    }
  }
}
}  // namespace scalar

bool Int8UsesVnni() { return ActiveSimdLevel() == SimdLevel::kAvx512 && CpuHasAvx512Vnni(); }

void MatMulRowsI8(const I8MatMulArgs& a, int64_t row_begin, int64_t row_end) {
  if (Int8UsesVnni()) return vnni::MatMulRowsI8(a, row_begin, row_end);
  if (ActiveSimdLevel() >= SimdLevel::kAvx2) return avx2::MatMulRowsI8(a, row_begin, row_end);
  scalar::MatMulRowsI8(a, row_begin, row_end);
}

}  // namespace parley
