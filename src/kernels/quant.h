// Weight-row kernels for every supported tensor type: dequantize, dot with f32 activations,
// and a matrix product over a block of rows. Each has a scalar reference and SIMD versions
// chosen at run time (see cpu.h). All functions are single-threaded and reentrant; callers
// split work across threads by rows.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/tensor_type.h"

namespace parley {

// dst[0..n) = dequantized elements of one row. REQUIRES: n % block_elems == 0.
void DequantizeRow(TensorType type, const void* row, float* dst, int64_t n);

// Returns sum_i dequant(row)[i] * x[i]. REQUIRES: n % block_elems == 0.
float DotRow(TensorType type, const void* row, const float* x, int64_t n);

// y[t * y_stride + r] = dot(row r of w, x + t * x_stride) for t in [0, num_tokens),
// r in [row_begin, row_end). Row r of w starts at (const char*)w + r * w_row_bytes.
// Reads each weight row once for all tokens.
struct MatMulArgs {
  TensorType type;
  const void* w;
  size_t w_row_bytes;
  int64_t n;             // row length (elements)
  const float* x;        // [num_tokens, x_stride]
  int64_t x_stride;
  float* y;              // [num_tokens, y_stride]
  int64_t y_stride;
  int64_t num_tokens;
};
void MatMulRows(const MatMulArgs& args, int64_t row_begin, int64_t row_end);

// Encodes n f32 values as one row of `type` (a simple round-to-nearest quantizer, enough
// for test models; K-types use per-sub-block absmax/min scales). Supports every type that
// DequantizeRow supports. Returns false for a type it cannot encode.
// REQUIRES: n % block_elems == 0; dst has RowBytes(type, n) bytes.
bool QuantizeRow(TensorType type, const float* src, void* dst, int64_t n);

// Scalar references (always available; tests compare the dispatched versions to these).
namespace scalar {
void DequantizeRow(TensorType type, const void* row, float* dst, int64_t n);
float DotRow(TensorType type, const void* row, const float* x, int64_t n);
void MatMulRows(const MatMulArgs& args, int64_t row_begin, int64_t row_end);
}  // namespace scalar

}  // namespace parley
