// Internal to the AVX2-flagged files of kernels/: VecAvx2, the vector-traits type that the
// ISA-generic kernel templates (simd/*_inl.h) are instantiated with for AVX2. Include only
// from files compiled with at least -mavx2 -mfma -mf16c.
//
// Anonymous namespace on purpose (see avx2_decode_inl.h): each SIMD file gets its own copy,
// compiled with its own flags, and defines no weak symbols.
#pragma once

#include <immintrin.h>

#include <cstdint>

#include "kernels/avx2_decode_inl.h"
#include "kernels/quant_internal.h"

namespace parley::simd {
namespace {

struct VecAvx2 {
  using F = __m256;
  static constexpr int kLanes = 8;
  // Tokens per register tile in MatMulRows: 4 rows x 3 tokens = 12 accumulators, plus 3 x
  // vectors and a weight vector, fill the 16 registers.
  static constexpr int kTokenTile = 3;
  // false: a row's last n % kLanes elements are summed in scalar after the vector reduction.
  static constexpr bool kMaskedTail = false;

  static F Zero() { return _mm256_setzero_ps(); }
  static F Load(const float* p) { return _mm256_loadu_ps(p); }
  static F MulAdd(F a, F b, F c) { return _mm256_fmadd_ps(a, b, c); }
  static float ReduceAdd(F v) { return HSum(v); }

  static float DotRow(TensorType type, const void* row, const float* x, int64_t n) {
    return avx2::DotRow(type, row, x, n);
  }
  static void DequantizeRow(TensorType type, const void* row, float* dst, int64_t n) {
    avx2::DequantizeRow(type, row, dst, n);
  }
};

}  // namespace
}  // namespace parley::simd
