// Internal to the SIMD-flagged files of kernels/ (quant_avx2.cc, quant_avx512.cc): AVX2
// byte-domain decoders that turn one block's packed quants into 32 int8 values in element
// order, block-scale helpers and the streaming prefetch. Include only from files compiled
// with at least -mavx2 -mfma -mf16c.
//
// Everything here sits in an anonymous namespace on purpose: each SIMD file gets its own
// copy, compiled with its own flags. Shared inline functions would be merged by the linker,
// and an AVX-512 copy could end up on the AVX2 path. For the same reason the SIMD files use
// no standard-library templates.
#pragma once

#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "kernels/quant_internal.h"

namespace parley::simd {
namespace {

// The half at p (unaligned), converted through the 64K-entry table of
// internal::HalfToFloatTable(): two loads and no ALU work, where F16C needs three shuffle-port
// uops per block scale.
// Sum of the 8 lanes.
inline float HSum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

inline const float* HalfPtr(const float* lut, const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return lut + h;
}
inline float Half(const float* lut, const uint8_t* p) { return *HalfPtr(lut, p); }

// Byte i of the result is 0xFF where bit i of `bits` is set, else 0.
inline __m256i ExpandBits(uint32_t bits) {
  const __m256i shuffle = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1,  //
                                           2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
  const __m256i mask = _mm256_set1_epi64x(0x8040201008040201LL);
  const __m256i v = _mm256_shuffle_epi8(_mm256_set1_epi32(static_cast<int>(bits)), shuffle);
  return _mm256_cmpeq_epi8(_mm256_and_si256(v, mask), mask);
}

// The 32 nibbles of 16 bytes in element order: low nibbles (elements 0-15), then high.
inline __m256i Nibbles32(const uint8_t* qs) {
  const __m128i raw = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
  const __m128i m4 = _mm_set1_epi8(0x0F);
  return _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(raw, 4), m4), _mm_and_si128(raw, m4));
}

// Quants of one 32-element block of Q5_0 / Q5_1, in element order: Q5_0 gives the signed
// value v - 16, Q5_1 the unsigned v.
inline __m256i QuantsQ5_0(const uint8_t* b) {
  // v - 16 = nibble - (high bit ? 0 : 16)
  const __m256i high = ExpandBits(internal::LoadU32(b + 2));
  return _mm256_sub_epi8(Nibbles32(b + 6), _mm256_andnot_si256(high, _mm256_set1_epi8(16)));
}
inline __m256i QuantsQ5_1(const uint8_t* b) {
  const __m256i high = ExpandBits(internal::LoadU32(b + 4));
  return _mm256_or_si256(Nibbles32(b + 8), _mm256_and_si256(high, _mm256_set1_epi8(16)));
}

// Q4_K / Q5_K chunk c (0..3) of block b: the unsigned quants of sub-blocks 2c (low nibbles)
// and 2c+1 (high nibbles); Q5_K adds 16 where bit 2c (resp. 2c+1) of qh[l] is set.
template <bool kFive>
inline void QuantsK45(const uint8_t* b, int c, __m256i* lo, __m256i* hi) {
  const uint8_t* qs = b + (kFive ? 48 : 16) + 32 * c;
  const __m256i raw = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qs));
  const __m256i m4 = _mm256_set1_epi8(0x0F);
  *lo = _mm256_and_si256(raw, m4);
  *hi = _mm256_and_si256(_mm256_srli_epi16(raw, 4), m4);
  if (kFive) {
    const __m256i qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 16));
    const __m256i sixteen = _mm256_set1_epi8(16);
    const __m256i bit_lo = _mm256_set1_epi8(static_cast<char>(1 << (2 * c)));
    const __m256i bit_hi = _mm256_set1_epi8(static_cast<char>(2 << (2 * c)));
    const __m256i set_lo = _mm256_cmpeq_epi8(_mm256_and_si256(qh, bit_lo), bit_lo);
    const __m256i set_hi = _mm256_cmpeq_epi8(_mm256_and_si256(qh, bit_hi), bit_hi);
    *lo = _mm256_or_si256(*lo, _mm256_and_si256(set_lo, sixteen));
    *hi = _mm256_or_si256(*hi, _mm256_and_si256(set_hi, sixteen));
  }
}

// Keeps GCC from forwarding values stored at p back through registers, so that later
// broadcasts and widening loads read memory (load ports) instead of using shuffles.
template <typename T, int kCount>
inline void ForceToMemory(T* p) {
  asm("" : "+m"(*reinterpret_cast<T(*)[kCount]>(p)));
}

// dsc[j] = d * scale_j and dmn[j] = dmin * min_j for the 8 sub-blocks of a Q4_K / Q5_K
// block, in the scalar code's arithmetic. The 6-bit fields are unpacked four at a time from
// the 12 bytes as three little-endian words w0..w2: bytes 0-3 of w0 / w1 hold scales / mins
// 0-3 (low 6 bits) and the top 2 bits of scales / mins 4-7; w2 holds their low nibbles.
inline void ScalesK45(const float* lut, const uint8_t* b, float* dsc, float* dmn) {
  const uint32_t w0 = internal::LoadU32(b + 4);
  const uint32_t w1 = internal::LoadU32(b + 8);
  const uint32_t w2 = internal::LoadU32(b + 12);
  const uint32_t sc_lo = w0 & 0x3f3f3f3fu, mn_lo = w1 & 0x3f3f3f3fu;
  const uint32_t sc_hi = (w2 & 0x0f0f0f0fu) | ((w0 >> 2) & 0x30303030u);
  const uint32_t mn_hi = ((w2 >> 4) & 0x0f0f0f0fu) | ((w1 >> 2) & 0x30303030u);
  const __m256 sc = _mm256_cvtepi32_ps(
      _mm256_cvtepu8_epi32(_mm_set_epi32(0, 0, static_cast<int>(sc_hi), static_cast<int>(sc_lo))));
  const __m256 mn = _mm256_cvtepi32_ps(
      _mm256_cvtepu8_epi32(_mm_set_epi32(0, 0, static_cast<int>(mn_hi), static_cast<int>(mn_lo))));
  _mm256_storeu_ps(dsc, _mm256_mul_ps(_mm256_broadcast_ss(HalfPtr(lut, b)), sc));
  _mm256_storeu_ps(dmn, _mm256_mul_ps(_mm256_broadcast_ss(HalfPtr(lut, b + 2)), mn));
  ForceToMemory<float, 8>(dsc);
  ForceToMemory<float, 8>(dmn);
}

// dsc[i] = d * scale_i for the 16 int8 scales of a Q6_K block.
inline void ScalesQ6_K(const float* lut, const uint8_t* b, float* dsc) {
  const __m256 d = _mm256_broadcast_ss(HalfPtr(lut, b + 208));
  const __m128i raw = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + 192));
  _mm256_storeu_ps(dsc, _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(raw))));
  _mm256_storeu_ps(
      dsc + 8,
      _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_unpackhi_epi64(raw, raw)))));
  ForceToMemory<float, 16>(dsc);
}

// Q6_K half n (0, 1) of block b: the four 32-element groups g (elements 128n + 32g + l), as
// signed quants v - 32. Elements l < 16 of group g use scale 8n + 2g, the rest 8n + 2g + 1.
inline void QuantsQ6_K(const uint8_t* b, int n, __m256i g[4]) {
  const __m256i ql0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 64 * n));
  const __m256i ql1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 64 * n + 32));
  const __m256i qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 128 + 32 * n));
  const __m256i m4 = _mm256_set1_epi8(0x0F);
  const __m256i m2 = _mm256_set1_epi8(0x30);
  const __m256i bias = _mm256_set1_epi8(32);
  // The 2-bit fields of qh moved to bits 4-5 of each byte (16-bit shifts never carry a
  // masked field across a byte boundary).
  const __m256i h0 = _mm256_and_si256(_mm256_slli_epi16(qh, 4), m2);
  const __m256i h1 = _mm256_and_si256(_mm256_slli_epi16(qh, 2), m2);
  const __m256i h2 = _mm256_and_si256(qh, m2);
  const __m256i h3 = _mm256_and_si256(_mm256_srli_epi16(qh, 2), m2);
  g[0] = _mm256_sub_epi8(_mm256_or_si256(_mm256_and_si256(ql0, m4), h0), bias);
  g[1] = _mm256_sub_epi8(_mm256_or_si256(_mm256_and_si256(ql1, m4), h1), bias);
  g[2] =
      _mm256_sub_epi8(_mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql0, 4), m4), h2), bias);
  g[3] =
      _mm256_sub_epi8(_mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql1, 4), m4), h3), bias);
}

// Weight rows are streamed once per token; the hardware prefetcher alone leaves the
// decode loops waiting on memory (about 30% slower on a row set larger than L2). Each loop
// touches the line this far ahead of the block it decodes.
constexpr int kPrefetchBytes = 2048;
inline void PrefetchAhead(const void* p) {
  _mm_prefetch(static_cast<const char*>(p) + kPrefetchBytes, _MM_HINT_T0);
}

// Spills 32 decoded bytes to `buf` so that the int8 -> int32 widening can use the memory
// form of vpmovsxbd: one store instead of lane extracts on the shuffle port, which limits
// these loops. The empty asm keeps GCC from forwarding the store back into shuffles.
inline const int8_t* Spill(__m256i q, int8_t* buf) {
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(buf), q);
  ForceToMemory<int8_t, 32>(buf);
  return buf;
}

}  // namespace
}  // namespace parley::simd
