// W8A8 matrix products (`--weights int8`, Character.AI's int8 path): weights are int8 per
// output row with one f32 scale (max |w| / 127, symmetric); activations are int8 with one
// dynamic f32 scale per block of kI8Block values of a token (per-token scales lose 3-5% of
// perplexity to the outlier channels of these models; blocks of 128 keep it within 1%).
//
// The product: for each block b, 16 lanes each hold an exact int32 sum of 4-byte groups of
// w * x; each lane is scaled by the block's activation scale into a float lane with one
// fused multiply-add per block; the 16 lanes are summed in a fixed tree (lane j + lane
// j+8, then j + j+4, j + j+2, j + j+1) and the sum is multiplied by the row's scale. Every
// SIMD level (AVX-512 VNNI, AVX2, scalar) computes exactly these operations, so products
// are bit-identical across levels and do not depend on the batch. Rows and activations are
// padded with zeros to a multiple of kI8Block values. Stateless; thread-safe.
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/tensor_type.h"

namespace parley {

constexpr int64_t kI8Block = 64;  // activation values per scale; a multiple of 64
inline int64_t I8Stride(int64_t cols) { return (cols + kI8Block - 1) / kI8Block * kI8Block; }

// One weight matrix converted to int8 rows.
struct Int8Rows {
  int64_t rows = 0, cols = 0, stride = 0;  // stride: I8Stride(cols)
  std::vector<int8_t> q;                   // [rows][stride]
  std::vector<float> scale;                // [rows]
  int64_t bytes() const { return static_cast<int64_t>(q.size() + scale.size() * 4); }
};

// Quantizes `cols` values to int8 with a symmetric scale (max |x| / 127; 0 for an all-zero
// row), rounding half away from zero; the tail up to `stride` is zeroed. Returns the scale.
float QuantizeRowI8(const float* x, int64_t cols, int8_t* q, int64_t stride);
// The same per block of kI8Block values: scales[stride / kI8Block].
void QuantizeActivationI8(const float* x, int64_t cols, int8_t* q, int64_t stride, float* scales);

// Converts rows [row_begin, row_end) of a GGUF weight (`type`, rows `row_bytes` apart) into
// `out`, which must be sized already (InitInt8Rows).
void InitInt8Rows(int64_t rows, int64_t cols, Int8Rows* out);
void ConvertRowsToInt8(TensorType type, const uint8_t* data, size_t row_bytes, int64_t row_begin, int64_t row_end,
                       Int8Rows* out);

struct I8MatMulArgs {
  const Int8Rows* w = nullptr;
  const int8_t* x = nullptr;  // [num_tokens][x_stride], x_stride >= w->stride, zero padded
  int64_t x_stride = 0;
  const float* x_scale = nullptr;  // [num_tokens][x_stride / kI8Block]
  float* y = nullptr;              // [num_tokens][y_stride]
  int64_t y_stride = 0;
  int64_t num_tokens = 0;
};

// Rows [row_begin, row_end) of y for every token.
void MatMulRowsI8(const I8MatMulArgs& a, int64_t row_begin, int64_t row_end);

namespace scalar {
void MatMulRowsI8(const I8MatMulArgs& a, int64_t row_begin, int64_t row_end);
}  // namespace scalar

// Whether the AVX-512 level runs the VNNI kernel here (else AVX2's).
bool Int8UsesVnni();

// The fixed summation tree over 16 lanes (see above), shared by every level's kernel.
inline float SumLanes16(const float* lane) {
  float s8[8], s4[4];
  for (int j = 0; j < 8; ++j) s8[j] = lane[j] + lane[j + 8];
  for (int j = 0; j < 4; ++j) s4[j] = s8[j] + s8[j + 4];
  const float s2a = s4[0] + s4[2], s2b = s4[1] + s4[3];
  return s2a + s2b;
}

}  // namespace parley
