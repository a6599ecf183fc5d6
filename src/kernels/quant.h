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

// ---- Int8-activation path (llama.cpp-compatible) -----------------------------------------
// Activations quantized per block to int8 and dotted with the weight quants in integers, as
// ggml's CPU backend does. Activation block layouts: Q8_0 {f16 d; int8 qs[32]} (34 bytes),
// Q8_1 {f16 d; f16 s; int8 qs[32]} (36 bytes), Q8_K {f32 d; int8 qs[256]; int16 bsums[16]}
// (292 bytes).

// The activation format ggml pairs with a weight type: Q8_0 for Q4_0/Q5_0/Q8_0, Q8_1 for
// Q4_1/Q5_1, Q8_K for Q2_K..Q6_K; kF32 for F32/F16/BF16 (no int8 path).
TensorType ActivationTypeFor(TensorType weight_type);

// Quantizes one activation row of n floats to `act_type` (Q8_0, Q8_1 or Q8_K blocks),
// bit-identical to ggml's x86 quantize_row_q8_0 / quantize_row_q8_1 (max|x| -> d = max/127
// stored as f16, id = max != 0 ? 127/max : 0, q = round-half-even(x*id); Q8_1 also stores
// s = f16(d * sum(q))) and quantize_row_q8_K_ref (signed max, iscale = -127/max, nearest
// int, clamp to 127, d = 1/iscale as f32, bsums per 16). REQUIRES: n % block_elems == 0;
// dst has RowBytes(act_type, n) bytes.
void QuantizeActivationRow(TensorType act_type, const float* x, void* dst, int64_t n);

// sum_i dequant(row)[i] * dequant(xq)[i], computed with integer block dot products as ggml
// does (e.g. Q4_1 x Q8_1: d_w*d_x*sumi + m_w*s_x; the K-types use their sub-block scales
// and the Q8_K bsums for the mins). `xq` holds blocks of ActivationTypeFor(weight_type).
// Supported weight types: Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K.
float DotRowQ8(TensorType weight_type, const void* row, const void* xq, int64_t n);

// y[t * y_stride + r] = DotRowQ8(type, row r of w, xq + t * xq_row_bytes, n) for r in
// [row_begin, row_end), t < num_tokens. Weights are read once for all tokens (tiles of
// rows x tokens).
struct MatMulQ8Args {
  TensorType type;
  const void* w;
  size_t w_row_bytes;
  int64_t n;
  const void* xq;  // num_tokens rows of ActivationTypeFor(type) blocks
  size_t xq_row_bytes;
  float* y;
  int64_t y_stride;
  int64_t num_tokens;
};
void MatMulRowsQ8(const MatMulQ8Args& args, int64_t row_begin, int64_t row_end);

namespace scalar {
float DotRowQ8(TensorType weight_type, const void* row, const void* xq, int64_t n);
void QuantizeActivationRow(TensorType act_type, const float* x, void* dst, int64_t n);
void MatMulRowsQ8(const MatMulQ8Args& args, int64_t row_begin, int64_t row_end);
}  // namespace scalar

}  // namespace parley
