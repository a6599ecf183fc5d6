// Internal to kernels/: per-level entry points of the W8A8 product (int8_matmul.h). No
// intrinsics here.
#pragma once

#include <cstdint>

#include "kernels/int8_matmul.h"

namespace parley {

namespace avx2 {
void MatMulRowsI8(const I8MatMulArgs& a, int64_t row_begin, int64_t row_end);
void QuantizeActivationI8(const float* x, int64_t cols, int8_t* q, int64_t stride, float* scales);
// The head, tokens [t_begin, t_end).
void MatMulRowsI8I16(const I8F32MatMulArgs& a, int64_t t_begin, int64_t t_end, int64_t row_begin, int64_t row_end);
}  // namespace avx2
namespace vnni {
void MatMulRowsI8(const I8MatMulArgs& a, int64_t row_begin, int64_t row_end);
void MatMulRowsI8I16(const I8F32MatMulArgs& a, int64_t t_begin, int64_t t_end, int64_t row_begin, int64_t row_end);
}  // namespace vnni

namespace amx {
// REQUIRES: a.num_tokens a multiple of 16, and Int8UsesAmx().
void MatMulRowsI8(const I8MatMulArgs& a, int64_t row_begin, int64_t row_end);
// The head's tokens [0, a.x->tiled), from their high and low bytes. REQUIRES: Int8UsesAmx().
void MatMulRowsI8I16(const I8F32MatMulArgs& a, int64_t row_begin, int64_t row_end);
// Loads the kernel's tile configuration, reads it back and releases the tiles: true when
// the configuration the CPU holds is the one written. REQUIRES: CpuHasAmxInt8().
bool TileConfigRoundTrips();
}  // namespace amx
}  // namespace parley
