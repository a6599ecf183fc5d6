// Internal to the AVX2-flagged files of kernels/: VecAvx2, the vector-traits type that the
// ISA-generic kernel templates (simd/*_inl.h) are instantiated with for AVX2. Include only
// from files compiled with at least -mavx2 -mfma -mf16c.
//
// Anonymous namespace on purpose (see avx2_decode_inl.h): each SIMD file gets its own copy,
// compiled with its own flags, and defines no weak symbols.
#pragma once

#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "kernels/avx2_decode_inl.h"
#include "kernels/kv_int8.h"
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
  // Vectors of columns per pass in the attention Mix (16 columns).
  static constexpr int kMixWide = 2;

  static F Zero() { return _mm256_setzero_ps(); }
  static F Load(const float* p) { return _mm256_loadu_ps(p); }
  static F MulAdd(F a, F b, F c) { return _mm256_fmadd_ps(a, b, c); }
  static F Add(F a, F b) { return _mm256_add_ps(a, b); }
  static F Sub(F a, F b) { return _mm256_sub_ps(a, b); }
  static F Mul(F a, F b) { return _mm256_mul_ps(a, b); }
  static F Min(F a, F b) { return _mm256_min_ps(a, b); }
  static F Max(F a, F b) { return _mm256_max_ps(a, b); }
  static F NegMulAdd(F a, F b, F c) { return _mm256_fnmadd_ps(a, b, c); }  // c - a * b
  static F RoundNearest(F v) { return _mm256_round_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
  // 2^k for integral k in the normal range, built in the exponent bits.
  static F Pow2(F k) {
    return _mm256_castsi256_ps(
        _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(k), _mm256_set1_epi32(127)), 23));
  }

  // Lanes [0, n) of 8 (every lane when n >= 8), for a masked tail.
  using Tail = __m256i;
  static Tail TailOf(int64_t n) {
    const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int32_t>(n < 8 ? n : 8)), idx);
  }
  static F LoadTail(Tail t, const float* p) { return _mm256_maskload_ps(p, t); }
  static void StoreTail(float* p, Tail t, F v) { _mm256_maskstore_ps(p, t, v); }
  static F ZeroOutside(Tail t, F v) { return _mm256_and_ps(v, _mm256_castsi256_ps(t)); }
  static F Set1(float v) { return _mm256_set1_ps(v); }
  static F Broadcast(const float* p) { return _mm256_broadcast_ss(p); }  // memory-form *p
  // 8 signed bytes at p, as floats (memory-form vpmovsxbd).
  static F I8ToF32(const int8_t* p) {
    return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))));
  }
  static void Store(float* p, F v) { _mm256_storeu_ps(p, v); }
  static float ReduceAdd(F v) { return HSum(v); }

  // Values i..i+7 of a KV row of d values as floats (int8 rows: times their group's f16
  // scale, read here with F16C rather than by a call to KvI8Scale).
  template <KvRowFormat R>
  static F LoadKv(const uint8_t* row, int32_t i, int32_t d) {
    if constexpr (R == KvRowFormat::kF16) {
      return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + 2 * i)));
    } else if constexpr (R == KvRowFormat::kI8) {
      uint16_t scale;
      std::memcpy(&scale, row + d + sizeof(uint16_t) * (i / kKvI8Group), sizeof(scale));
      const __m256 q = _mm256_cvtepi32_ps(
          _mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(row + i))));
      return _mm256_mul_ps(q, _mm256_set1_ps(_cvtsh_ss(scale)));
    } else {
      return _mm256_loadu_ps(reinterpret_cast<const float*>(row) + i);
    }
  }

  static float DotRow(TensorType type, const void* row, const float* x, int64_t n) {
    return avx2::DotRow(type, row, x, n);
  }
  static void DequantizeRow(TensorType type, const void* row, float* dst, int64_t n) {
    avx2::DequantizeRow(type, row, dst, n);
  }
};

}  // namespace
}  // namespace parley::simd
