// Internal to kernels/: block layouts of the quantized types (see docs model-facts.md §2.3),
// small scalar helpers shared by the scalar and SIMD files, and the per-level entry points
// that quant.cc dispatches to. No intrinsics here; do not include from other modules.
#pragma once

#include <cstdint>
#include <cstring>

#include "kernels/fp16.h"
#include "kernels/quant.h"

namespace parley {
namespace internal {

constexpr int kQk = 32;    // elements per block of the legacy types (Q4_0 ... Q8_0)
constexpr int kQkK = 256;  // elements per super-block of the K-types

// Byte offsets of the fields inside one block.
constexpr int kQ4_0Bytes = 18;   // d, qs[16]
constexpr int kQ4_1Bytes = 20;   // d, m, qs[16]
constexpr int kQ5_0Bytes = 22;   // d, qh[4], qs[16]
constexpr int kQ5_1Bytes = 24;   // d, m, qh[4], qs[16]
constexpr int kQ8_0Bytes = 34;   // d, qs[32]
constexpr int kQ2_KBytes = 84;   // scales[16] @0, qs[64] @16, d @80, dmin @82
constexpr int kQ3_KBytes = 110;  // hmask[32] @0, qs[64] @32, scales[12] @96, d @108
constexpr int kQ4_KBytes = 144;  // d @0, dmin @2, scales[12] @4, qs[128] @16
constexpr int kQ5_KBytes = 176;  // d @0, dmin @2, scales[12] @4, qh[32] @16, qs[128] @48
constexpr int kQ6_KBytes = 210;  // ql[128] @0, qh[64] @128, scales[16] @192, d @208

// Reads an unaligned little-endian half at p.
inline float LoadHalf(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return F16ToF32(h);
}

inline uint32_t LoadU32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

// 6-bit scale and min of sub-block j (0..7) from the 12-byte array of Q4_K / Q5_K.
inline void UnpackScaleMinK4(int j, const uint8_t* s, int* scale, int* min) {
  if (j < 4) {
    *scale = s[j] & 63;
    *min = s[j + 4] & 63;
  } else {
    *scale = (s[j + 4] & 0x0F) | ((s[j - 4] >> 6) << 4);
    *min = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
  }
}

// The 16 signed 6-bit scales (-32..31) of a Q3_K block from its 12-byte array.
inline void UnpackScalesQ3K(const uint8_t* s, int out[16]) {
  for (int i = 0; i < 16; ++i) {
    const int low = i < 8 ? (s[i] & 0xF) : (s[i - 8] >> 4);
    const int high = (s[8 + (i % 4)] >> (2 * (i / 4))) & 3;
    out[i] = (low | (high << 4)) - 32;
  }
}

// Decodes one block of a block-quantized type into `y` (block_elems floats). Null for the
// plain float types and for unsupported ones.
using BlockDequantFn = void (*)(const uint8_t* block, float* y);
BlockDequantFn FindBlockDequant(TensorType type);

// F16ToF32 of every half, indexed by its bits (256 KiB, built on first use; thread-safe).
// The SIMD kernels read block scales through it.
const float* HalfToFloatTable();

// Per-thread f32 buffers of at least n floats for the SIMD files, which must not
// instantiate standard-library templates themselves (see avx2_decode_inl.h). A slot's
// buffer stays valid until the next call for the same slot on the same thread.
enum class ScratchSlot { kRow = 0, kTile = 1 };
float* ThreadScratch(ScratchSlot slot, int64_t n);

}  // namespace internal

// Per-level kernels; same contracts as the dispatched versions in quant.h.
namespace avx2 {
void DequantizeRow(TensorType type, const void* row, float* dst, int64_t n);
float DotRow(TensorType type, const void* row, const float* x, int64_t n);
void MatMulRows(const MatMulArgs& args, int64_t row_begin, int64_t row_end);
}  // namespace avx2

namespace avx512 {
void DequantizeRow(TensorType type, const void* row, float* dst, int64_t n);
float DotRow(TensorType type, const void* row, const float* x, int64_t n);
void MatMulRows(const MatMulArgs& args, int64_t row_begin, int64_t row_end);
}  // namespace avx512

}  // namespace parley
