// Internal to kernels/: per-level entry points of the W8A8 product (int8_matmul.h). No
// intrinsics here.
#pragma once

#include <cstdint>

#include "kernels/int8_matmul.h"

namespace parley {

// The head's activations, quantized (QuantizeActivationI16): token t's values at
// q + t * w->stride, its scales at scales + t * w->head_blocks().
struct I16Activations {
  const int16_t* q;
  const float* scales;
};

namespace avx2 {
void MatMulRowsI8(const I8MatMulArgs& a, int64_t row_begin, int64_t row_end);
void QuantizeActivationI8(const float* x, int64_t cols, int8_t* q, int64_t stride, float* scales);
void MatMulRowsI8I16(const I8F32MatMulArgs& a, const I16Activations& x, int64_t row_begin, int64_t row_end);
}  // namespace avx2
namespace vnni {
void MatMulRowsI8(const I8MatMulArgs& a, int64_t row_begin, int64_t row_end);
void MatMulRowsI8I16(const I8F32MatMulArgs& a, const I16Activations& x, int64_t row_begin, int64_t row_end);
}  // namespace vnni

namespace amx {
// REQUIRES: a.num_tokens a multiple of 16, and Int8UsesAmx().
void MatMulRowsI8(const I8MatMulArgs& a, int64_t row_begin, int64_t row_end);
// The head for 16-token groups: hi / lo are the int16 activations' high (signed) and low
// (unsigned) bytes in column order, [num_tokens][w->stride]; x supplies the scales.
// REQUIRES: as above.
void MatMulRowsI8I16(const I8F32MatMulArgs& a, const I16Activations& x, const int8_t* hi, const uint8_t* lo,
                     int64_t row_begin, int64_t row_end);
// Loads the kernel's tile configuration, reads it back and releases the tiles: true when
// the configuration the CPU holds is the one written. REQUIRES: CpuHasAmxInt8().
bool TileConfigRoundTrips();
}  // namespace amx
}  // namespace parley
