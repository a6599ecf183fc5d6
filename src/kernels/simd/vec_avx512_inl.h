// Internal to the AVX-512-flagged files of kernels/: VecAvx512, the vector-traits type that
// the ISA-generic kernel templates (simd/*_inl.h) are instantiated with for AVX-512. Include
// only from files compiled with the AVX-512 flags.
//
// Anonymous namespace on purpose (see avx2_decode_inl.h): each SIMD file gets its own copy,
// compiled with its own flags, and defines no weak symbols.
#pragma once

// GCC 12's AVX-512 headers trip -Wmaybe-uninitialized on their own _mm512_undefined_*
// placeholders (GCC bug 105593); silence it for the header only.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop

#include <cstdint>

#include "kernels/quant_internal.h"

namespace parley::simd {
namespace {

struct VecAvx512 {
  using F = __m512;
  static constexpr int kLanes = 16;
  // Tokens per register tile in MatMulRows: 4 rows x 4 tokens = 16 of the 32 registers.
  static constexpr int kTokenTile = 4;
  // true: a row's last n % kLanes elements go through one masked vector step.
  static constexpr bool kMaskedTail = true;

  static F Zero() { return _mm512_setzero_ps(); }
  static F Load(const float* p) { return _mm512_loadu_ps(p); }
  // The first `count` (< kLanes) floats at p, zeros above.
  static F LoadFirst(const float* p, int64_t count) {
    return _mm512_maskz_loadu_ps(static_cast<__mmask16>((1u << count) - 1), p);
  }
  static F MulAdd(F a, F b, F c) { return _mm512_fmadd_ps(a, b, c); }
  static float ReduceAdd(F v) { return _mm512_reduce_add_ps(v); }

  static float DotRow(TensorType type, const void* row, const float* x, int64_t n) {
    return avx512::DotRow(type, row, x, n);
  }
  static void DequantizeRow(TensorType type, const void* row, float* dst, int64_t n) {
    avx512::DequantizeRow(type, row, dst, n);
  }
};

}  // namespace
}  // namespace parley::simd
