// AVX-512 (F, BW, VL, DQ) weight-row kernels: the AVX2 design (decode a block into registers,
// FMA against f32 activations) with 16-lane vectors, which halves the widening and
// conversion work per element. Byte-domain decoding reuses avx2_decode_inl.h. Types without
// a kernel here (Q2_K, Q3_K) go through the scalar dequantizer. Dequantized values are
// bit-identical to the scalar reference (-ffp-contract=off). Compiled only with the AVX-512
// flags; reached through quant.cc after the CPU check. Reentrant.

// GCC 12's AVX-512 headers trip -Wmaybe-uninitialized on their own _mm512_undefined_*
// placeholders (GCC bug 105593); silence it for the header only.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop

#include <cstdint>

#include "kernels/avx2_decode_inl.h"
#include "kernels/ops_internal.h"
#include "kernels/quant.h"
#include "kernels/quant_internal.h"
#include "kernels/simd/quant_inl.h"
#include "kernels/simd/vec_avx512_inl.h"
#include "kernels/tensor_type.h"

namespace parley::avx512 {
namespace {

using V = simd::VecAvx512;
using Quants32 = simd::Quants32<V>;  // two groups of 16 floats

inline Quants32 ToFloats(__m256i q) { return simd::ToFloats<V>(q); }

// The 32 nibbles of Q4_0 / Q4_1 minus `offset`, widened straight from memory: the 16 bytes
// give elements 0-15 (low nibbles) and 16-31 (high nibbles).
template <int kOffset>
inline Quants32 NibbleFloats(const uint8_t* qs) {
  const __m512i a = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(qs)));
  const __m512i off = _mm512_set1_epi32(kOffset);
  return {{_mm512_cvtepi32_ps(_mm512_sub_epi32(_mm512_and_si512(a, _mm512_set1_epi32(0x0F)), off)),
           _mm512_cvtepi32_ps(_mm512_sub_epi32(_mm512_srli_epi32(a, 4), off))}};
}
inline Quants32 FloatsQ4_0(const uint8_t* b) { return NibbleFloats<8>(b + 2); }
inline Quants32 FloatsQ4_1(const uint8_t* b) { return NibbleFloats<0>(b + 4); }

// Q5_0 / Q5_1: the nibbles as above, with the 5th bits of qh applied under mask registers
// (bit e of qh belongs to element e): Q5_0 subtracts 16 where the bit is clear (v - 16),
// Q5_1 adds 16 where it is set (v).
template <bool kSigned>
inline Quants32 FloatsQ5(const uint8_t* qh_at, const uint8_t* qs) {
  const __m512i a = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(qs)));
  const uint32_t qh = internal::LoadU32(qh_at);
  const __mmask16 k_lo = static_cast<__mmask16>(qh), k_hi = static_cast<__mmask16>(qh >> 16);
  const __m512i sixteen = _mm512_set1_epi32(16);
  __m512i lo = _mm512_and_si512(a, _mm512_set1_epi32(0x0F));
  __m512i hi = _mm512_srli_epi32(a, 4);
  if (kSigned) {
    lo = _mm512_mask_sub_epi32(lo, static_cast<__mmask16>(~k_lo), lo, sixteen);
    hi = _mm512_mask_sub_epi32(hi, static_cast<__mmask16>(~k_hi), hi, sixteen);
  } else {
    lo = _mm512_mask_add_epi32(lo, k_lo, lo, sixteen);
    hi = _mm512_mask_add_epi32(hi, k_hi, hi, sixteen);
  }
  return {{_mm512_cvtepi32_ps(lo), _mm512_cvtepi32_ps(hi)}};
}
inline Quants32 FloatsQ5_0(const uint8_t* b) { return FloatsQ5<true>(b + 2, b + 6); }
inline Quants32 FloatsQ5_1(const uint8_t* b) { return FloatsQ5<false>(b + 4, b + 8); }
constexpr auto FloatsQ8_0 = simd::FloatsQ8_0<V>;

// ---- Plain float types ----------------------------------------------------------------------

inline __m512 LoadF16x16(const uint8_t* p, __mmask16 m) {
  return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, p));
}
inline __m512 LoadBf16x16(const uint8_t* p, __mmask16 m) {
  const __m512i v = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, p));
  return _mm512_castsi512_ps(_mm512_slli_epi32(v, 16));
}

inline __mmask16 TailMask(int64_t count) {
  return static_cast<__mmask16>((1u << count) - 1);  // count in [0, 16)
}

template <__m512 (*kLoad16)(const uint8_t*, __mmask16)>
float DotHalfType(const uint8_t* p, const float* x, int64_t n) {
  __m512 acc = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    simd::PrefetchAhead(p + 2 * i);
    acc = _mm512_fmadd_ps(kLoad16(p + 2 * i, 0xFFFF), _mm512_loadu_ps(x + i), acc);
    acc = _mm512_fmadd_ps(kLoad16(p + 2 * i + 32, 0xFFFF), _mm512_loadu_ps(x + i + 16), acc);
  }
  if (i < n) {  // at most two chunks remain, in order
    const __mmask16 m = n - i >= 16 ? 0xFFFF : TailMask(n - i);
    acc = _mm512_fmadd_ps(kLoad16(p + 2 * i, m), _mm512_maskz_loadu_ps(m, x + i), acc);
    i += 16;
  }
  if (i < n) {
    const __mmask16 m = TailMask(n - i);
    acc = _mm512_fmadd_ps(kLoad16(p + 2 * i, m), _mm512_maskz_loadu_ps(m, x + i), acc);
  }
  return _mm512_reduce_add_ps(acc);
}

// f32 weights (and rows the scalar dequantizer produced): the same chunk order.
float DotWeights(const float* w, const float* x, int64_t n) {
  __m512 acc = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    simd::PrefetchAhead(w + i);
    acc = _mm512_fmadd_ps(_mm512_loadu_ps(w + i), _mm512_loadu_ps(x + i), acc);
    acc = _mm512_fmadd_ps(_mm512_loadu_ps(w + i + 16), _mm512_loadu_ps(x + i + 16), acc);
  }
  if (i < n) {  // as in DotHalfType
    const __mmask16 m = n - i >= 16 ? 0xFFFF : TailMask(n - i);
    acc = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, w + i), _mm512_maskz_loadu_ps(m, x + i), acc);
    i += 16;
  }
  if (i < n) {
    const __mmask16 m = TailMask(n - i);
    acc = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, w + i), _mm512_maskz_loadu_ps(m, x + i), acc);
  }
  return _mm512_reduce_add_ps(acc);
}

template <__m512 (*kLoad16)(const uint8_t*, __mmask16)>
void DequantHalfType(const uint8_t* p, float* y, int64_t n) {
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = n - i >= 16 ? 0xFFFF : TailMask(n - i);
    _mm512_mask_storeu_ps(y + i, m, kLoad16(p + 2 * i, m));
  }
}

// The kernel set the shared row entry points (simd/quant_inl.h) are instantiated with.
struct Kernels {
  using V = simd::VecAvx512;
  static constexpr auto kQ4_0 = FloatsQ4_0, kQ4_1 = FloatsQ4_1, kQ5_0 = FloatsQ5_0,
                        kQ5_1 = FloatsQ5_1, kQ8_0 = FloatsQ8_0;
  static constexpr auto kDotWeights = DotWeights;
  static constexpr auto kDotF16 = DotHalfType<LoadF16x16>, kDotBF16 = DotHalfType<LoadBf16x16>;
  static constexpr auto kDequantF16 = DequantHalfType<LoadF16x16>, kDequantBF16 = DequantHalfType<LoadBf16x16>;
};

}  // namespace

void DequantizeRow(TensorType type, const void* row, float* dst, int64_t n) {
  simd::DequantizeRowOf<Kernels>(type, row, dst, n);
}

float DotRow(TensorType type, const void* row, const float* x, int64_t n) {
  return simd::DotRowOf<Kernels>(type, row, x, n);
}

}  // namespace parley::avx512
