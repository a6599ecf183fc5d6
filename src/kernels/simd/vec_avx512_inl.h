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
#include <cstring>

#include "kernels/kv_int8.h"
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
  // Vectors of columns per pass in the attention Mix (64 columns).
  static constexpr int kMixWide = 4;

  static F Zero() { return _mm512_setzero_ps(); }
  static F Load(const float* p) { return _mm512_loadu_ps(p); }
  // The first `count` (< kLanes) floats at p, zeros above.
  static F LoadFirst(const float* p, int64_t count) {
    return _mm512_maskz_loadu_ps(static_cast<__mmask16>((1u << count) - 1), p);
  }
  static F MulAdd(F a, F b, F c) { return _mm512_fmadd_ps(a, b, c); }
  static F Add(F a, F b) { return _mm512_add_ps(a, b); }
  static F Sub(F a, F b) { return _mm512_sub_ps(a, b); }
  static F Mul(F a, F b) { return _mm512_mul_ps(a, b); }
  static F Min(F a, F b) { return _mm512_min_ps(a, b); }
  static F Max(F a, F b) { return _mm512_max_ps(a, b); }
  static F NegMulAdd(F a, F b, F c) { return _mm512_fnmadd_ps(a, b, c); }  // c - a * b
  static F RoundNearest(F v) {
    return _mm512_roundscale_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  }
  // 2^k for integral k in the normal range, built in the exponent bits.
  static F Pow2(F k) {
    return _mm512_castsi512_ps(
        _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(k), _mm512_set1_epi32(127)), 23));
  }

  // Lanes [0, n) of 16, n < 16, for a masked tail.
  using Tail = __mmask16;
  static Tail TailOf(int64_t n) { return static_cast<__mmask16>((1u << n) - 1); }
  static F LoadTail(Tail t, const float* p) { return _mm512_maskz_loadu_ps(t, p); }
  static void StoreTail(float* p, Tail t, F v) { _mm512_mask_storeu_ps(p, t, v); }
  static F ZeroOutside(Tail t, F v) { return _mm512_maskz_mov_ps(t, v); }
  static F Set1(float v) { return _mm512_set1_ps(v); }
  static F Broadcast(const float* p) { return _mm512_set1_ps(*p); }
  // 16 signed bytes at p, as floats.
  static F I8ToF32(const int8_t* p) {
    return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))));
  }
  static void Store(float* p, F v) { _mm512_storeu_ps(p, v); }
  static float ReduceAdd(F v) { return _mm512_reduce_add_ps(v); }

  // Values i..i+15 of a KV row of d values as floats (int8 rows: times their group's f16
  // scale, read here with F16C rather than by a call to KvI8Scale).
  template <KvRowFormat R>
  static F LoadKv(const uint8_t* row, int32_t i, int32_t d) {
    if constexpr (R == KvRowFormat::kF16) {
      return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + 2 * i)));
    } else if constexpr (R == KvRowFormat::kI8) {
      uint16_t scale;
      std::memcpy(&scale, row + d + sizeof(uint16_t) * (i / kKvI8Group), sizeof(scale));
      const __m512 q = _mm512_cvtepi32_ps(
          _mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + i))));
      return _mm512_mul_ps(q, _mm512_set1_ps(_cvtsh_ss(scale)));
    } else {
      return _mm512_loadu_ps(reinterpret_cast<const float*>(row) + i);
    }
  }

  static float DotRow(TensorType type, const void* row, const float* x, int64_t n) {
    return avx512::DotRow(type, row, x, n);
  }
  static void DequantizeRow(TensorType type, const void* row, float* dst, int64_t n) {
    avx512::DequantizeRow(type, row, dst, n);
  }
};

}  // namespace
}  // namespace parley::simd
