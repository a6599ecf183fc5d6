// AVX2 + FMA + F16C weight-row kernels. Hot types (Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K,
// Q6_K, F32, F16, BF16) decode each block into registers and FMA against f32 activations;
// Q2_K and Q3_K dequantize through the scalar code into thread-local scratch. Dequantized
// values are bit-identical to the scalar reference (same operations; the file is compiled
// with -ffp-contract=off, so only explicit FMAs fuse). Compiled only with -mavx2 -mfma
// -mf16c; reached through quant.cc after the CPU check. Reentrant.
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "kernels/avx2_decode_inl.h"
#include "kernels/ops_internal.h"
#include "kernels/quant.h"
#include "kernels/quant_internal.h"
#include "kernels/simd/quant_inl.h"
#include "kernels/simd/vec_avx2_inl.h"
#include "kernels/tensor_type.h"

namespace parley::avx2 {
namespace {

using simd::HSum;
using V = simd::VecAvx2;
using Quants32 = simd::Quants32<V>;  // four groups of 8 floats
using simd::DequantAffine, simd::DequantScaled, simd::DotAffine, simd::DotScaled;

inline Quants32 ToFloats(__m256i q) { return simd::ToFloats<V>(q); }

// The 32 nibbles of Q4_0 / Q4_1 minus `offset`, widened straight from memory: bytes 0-7
// and 8-15 give elements 0-15 (low nibbles) and 16-31 (high nibbles), without the
// byte-domain unpack and spill that the 5-bit types need.
template <int kOffset>
inline Quants32 NibbleFloats(const uint8_t* qs) {
  const __m256i a = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(qs)));
  const __m256i b = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(qs + 8)));
  const __m256i m4 = _mm256_set1_epi32(0x0F);
  const __m256i off = _mm256_set1_epi32(kOffset);
  return {{_mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_and_si256(a, m4), off)),
           _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_and_si256(b, m4), off)),
           _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_srli_epi32(a, 4), off)),
           _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_srli_epi32(b, 4), off))}};
}
inline Quants32 FloatsQ4_0(const uint8_t* b) { return NibbleFloats<8>(b + 2); }
inline Quants32 FloatsQ4_1(const uint8_t* b) { return NibbleFloats<0>(b + 4); }
inline Quants32 FloatsQ5_0(const uint8_t* b) { return ToFloats(simd::QuantsQ5_0(b)); }
inline Quants32 FloatsQ5_1(const uint8_t* b) { return ToFloats(simd::QuantsQ5_1(b)); }
constexpr auto FloatsQ8_0 = simd::FloatsQ8_0<V>;

// ---- K-types ------------------------------------------------------------------------------

// y = d1 * q - m1 per sub-block (multiply, then subtract: as Store32K rounds it).
template <bool kFive>
float DotK45(const float* lut, const uint8_t* p, const float* x, int64_t num_blocks) {
  constexpr int kBytes = kFive ? internal::kQ5_KBytes : internal::kQ4_KBytes;
  __m256 acc = _mm256_setzero_ps();
  alignas(32) float dsc[8], dmn[8];
  for (int64_t i = 0; i < num_blocks; ++i, x += 256) {
    const uint8_t* b = p + i * kBytes;
#pragma GCC unroll 8
    for (int line = 0; line < kBytes; line += 64) simd::PrefetchAhead(b + line);
    simd::ScalesK45(lut, b, dsc, dmn);
    __m256i quants[2];
#pragma GCC unroll 8
    for (int j = 0; j < 8; ++j) {  // sub-blocks of 32; chunk j / 2 holds j and j ^ 1
      if ((j & 1) == 0) simd::QuantsK45<kFive>(b, j / 2, &quants[0], &quants[1]);
      const Quants32 q = ToFloats(quants[j & 1]);
      const __m256 d = _mm256_broadcast_ss(dsc + j), m = _mm256_broadcast_ss(dmn + j);
      const float* xj = x + 32 * j;
#pragma GCC unroll 8
      for (int k = 0; k < 4; ++k) {
        acc = _mm256_fmadd_ps(_mm256_sub_ps(_mm256_mul_ps(d, q.f[k]), m), _mm256_loadu_ps(xj + 8 * k), acc);
      }
    }
  }
  return HSum(acc);
}

// y = d1 * q - m1 (the K-type formula, unfused as in the scalar code).
inline void Store32K(float* y, const Quants32& q, const float* d1, const float* m1) {
  const __m256 d = _mm256_broadcast_ss(d1), m = _mm256_broadcast_ss(m1);
#pragma GCC unroll 8
  for (int k = 0; k < 4; ++k) {
    _mm256_storeu_ps(y + 8 * k, _mm256_sub_ps(_mm256_mul_ps(d, q.f[k]), m));
  }
}

template <bool kFive>
void DequantK45(const float* lut, const uint8_t* p, float* y, int64_t num_blocks) {
  constexpr int kBytes = kFive ? internal::kQ5_KBytes : internal::kQ4_KBytes;
  alignas(32) float dsc[8], dmn[8];
  for (int64_t i = 0; i < num_blocks; ++i, y += 256) {
    const uint8_t* b = p + i * kBytes;
    simd::ScalesK45(lut, b, dsc, dmn);
#pragma GCC unroll 8
    for (int c = 0; c < 4; ++c) {
      __m256i lo, hi;
      simd::QuantsK45<kFive>(b, c, &lo, &hi);
      Store32K(y + 64 * c, ToFloats(lo), dsc + 2 * c, dmn + 2 * c);
      Store32K(y + 64 * c + 32, ToFloats(hi), dsc + 2 * c + 1, dmn + 2 * c + 1);
    }
  }
}

// Q6_K: scale dsc[8n + 2k] covers elements 0-15 of group k of half n, dsc[8n + 2k + 1]
// elements 16-31.
float DotQ6_K(const float* lut, const uint8_t* p, const float* x, int64_t num_blocks) {
  __m256 acc = _mm256_setzero_ps();
  alignas(32) float dsc[16];
  for (int64_t i = 0; i < num_blocks; ++i) {
    const uint8_t* b = p + i * internal::kQ6_KBytes;
#pragma GCC unroll 8
    for (int line = 0; line < internal::kQ6_KBytes; line += 64) simd::PrefetchAhead(b + line);
    simd::ScalesQ6_K(lut, b, dsc);
#pragma GCC unroll 8
    for (int n = 0; n < 2; ++n, x += 128) {
      __m256i g[4];
      simd::QuantsQ6_K(b, n, g);
#pragma GCC unroll 8
      for (int k = 0; k < 4; ++k) {
        const Quants32 q = ToFloats(g[k]);
        const float* xg = x + 32 * k;
        const int is = 8 * n + 2 * k;
        const __m256 d0 = _mm256_broadcast_ss(dsc + is);
        const __m256 d1 = _mm256_broadcast_ss(dsc + is + 1);
        acc = _mm256_fmadd_ps(_mm256_mul_ps(d0, q.f[0]), _mm256_loadu_ps(xg), acc);
        acc = _mm256_fmadd_ps(_mm256_mul_ps(d0, q.f[1]), _mm256_loadu_ps(xg + 8), acc);
        acc = _mm256_fmadd_ps(_mm256_mul_ps(d1, q.f[2]), _mm256_loadu_ps(xg + 16), acc);
        acc = _mm256_fmadd_ps(_mm256_mul_ps(d1, q.f[3]), _mm256_loadu_ps(xg + 24), acc);
      }
    }
  }
  return HSum(acc);
}

void DequantQ6_K(const float* lut, const uint8_t* p, float* y, int64_t num_blocks) {
  alignas(32) float dsc[16];
  for (int64_t i = 0; i < num_blocks; ++i) {
    const uint8_t* b = p + i * internal::kQ6_KBytes;
    simd::ScalesQ6_K(lut, b, dsc);
#pragma GCC unroll 8
    for (int n = 0; n < 2; ++n, y += 128) {
      __m256i g[4];
      simd::QuantsQ6_K(b, n, g);
#pragma GCC unroll 8
      for (int k = 0; k < 4; ++k) {
        const Quants32 q = ToFloats(g[k]);
        const int is = 8 * n + 2 * k;
        const __m256 d0 = _mm256_broadcast_ss(dsc + is);
        const __m256 d1 = _mm256_broadcast_ss(dsc + is + 1);
        float* yg = y + 32 * k;
        _mm256_storeu_ps(yg, _mm256_mul_ps(d0, q.f[0]));
        _mm256_storeu_ps(yg + 8, _mm256_mul_ps(d0, q.f[1]));
        _mm256_storeu_ps(yg + 16, _mm256_mul_ps(d1, q.f[2]));
        _mm256_storeu_ps(yg + 24, _mm256_mul_ps(d1, q.f[3]));
      }
    }
  }
}

// ---- Plain float types ----------------------------------------------------------------------

inline __m256 LoadF16x8(const uint8_t* p) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}
inline __m256 LoadBf16x8(const uint8_t* p) {
  const __m256i v = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  return _mm256_castsi256_ps(_mm256_slli_epi32(v, 16));
}

template <__m256 (*kLoad8)(const uint8_t*), TensorType kType>
float DotHalfType(const uint8_t* p, const float* x, int64_t n) {
  __m256 acc = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    if (i % 32 == 0) simd::PrefetchAhead(p + 2 * i);
    acc = _mm256_fmadd_ps(kLoad8(p + 2 * i), _mm256_loadu_ps(x + i), acc);
  }
  float sum = HSum(acc);
  if (i < n) {
    float tail[8];
    scalar::DequantizeRow(kType, p + 2 * i, tail, n - i);
    for (int64_t k = 0; k < n - i; ++k) sum += tail[k] * x[i + k];
  }
  return sum;
}

// f32 weights (and rows the scalar dequantizer produced): the same order.
float DotWeights(const float* w, const float* x, int64_t n) {
  __m256 acc = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    if (i % 32 == 0) simd::PrefetchAhead(w + i);
    acc = _mm256_fmadd_ps(_mm256_loadu_ps(w + i), _mm256_loadu_ps(x + i), acc);
  }
  float sum = HSum(acc);
  for (; i < n; ++i) sum += w[i] * x[i];
  return sum;
}

template <__m256 (*kLoad8)(const uint8_t*), TensorType kType>
void DequantHalfType(const uint8_t* p, float* y, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, kLoad8(p + 2 * i));
  if (i < n) scalar::DequantizeRow(kType, p + 2 * i, y + i, n - i);
}

}  // namespace

void DequantizeRow(TensorType type, const void* row, float* dst, int64_t n) {
  using internal::kQ4_0Bytes, internal::kQ4_1Bytes, internal::kQ5_0Bytes, internal::kQ5_1Bytes,
      internal::kQ8_0Bytes;
  const uint8_t* p = static_cast<const uint8_t*>(row);
  const float* lut = internal::HalfToFloatTable();
  switch (type) {
    case TensorType::kF32: std::memcpy(dst, p, static_cast<size_t>(n) * 4); return;
    case TensorType::kF16: DequantHalfType<LoadF16x8, TensorType::kF16>(p, dst, n); return;
    case TensorType::kBF16: DequantHalfType<LoadBf16x8, TensorType::kBF16>(p, dst, n); return;
    case TensorType::kQ4_0: DequantScaled<V, FloatsQ4_0, kQ4_0Bytes>(lut, p, dst, n / 32); return;
    case TensorType::kQ5_0: DequantScaled<V, FloatsQ5_0, kQ5_0Bytes>(lut, p, dst, n / 32); return;
    case TensorType::kQ8_0: DequantScaled<V, FloatsQ8_0, kQ8_0Bytes>(lut, p, dst, n / 32); return;
    case TensorType::kQ4_1: DequantAffine<V, FloatsQ4_1, kQ4_1Bytes>(lut, p, dst, n / 32); return;
    case TensorType::kQ5_1: DequantAffine<V, FloatsQ5_1, kQ5_1Bytes>(lut, p, dst, n / 32); return;
    case TensorType::kQ4_K: DequantK45<false>(lut, p, dst, n / 256); return;
    case TensorType::kQ5_K: DequantK45<true>(lut, p, dst, n / 256); return;
    case TensorType::kQ6_K: DequantQ6_K(lut, p, dst, n / 256); return;
    default: scalar::DequantizeRow(type, row, dst, n); return;
  }
}

float DotRow(TensorType type, const void* row, const float* x, int64_t n) {
  using internal::kQ4_0Bytes, internal::kQ4_1Bytes, internal::kQ5_0Bytes, internal::kQ5_1Bytes,
      internal::kQ8_0Bytes;
  const uint8_t* p = static_cast<const uint8_t*>(row);
  const float* lut = internal::HalfToFloatTable();
  switch (type) {
    case TensorType::kF32: return DotWeights(reinterpret_cast<const float*>(p), x, n);
    case TensorType::kF16: return DotHalfType<LoadF16x8, TensorType::kF16>(p, x, n);
    case TensorType::kBF16: return DotHalfType<LoadBf16x8, TensorType::kBF16>(p, x, n);
    case TensorType::kQ4_0: return DotScaled<V, FloatsQ4_0, kQ4_0Bytes>(lut, p, x, n / 32);
    case TensorType::kQ5_0: return DotScaled<V, FloatsQ5_0, kQ5_0Bytes>(lut, p, x, n / 32);
    case TensorType::kQ8_0: return DotScaled<V, FloatsQ8_0, kQ8_0Bytes>(lut, p, x, n / 32);
    case TensorType::kQ4_1: return DotAffine<V, FloatsQ4_1, kQ4_1Bytes>(lut, p, x, n / 32);
    case TensorType::kQ5_1: return DotAffine<V, FloatsQ5_1, kQ5_1Bytes>(lut, p, x, n / 32);
    case TensorType::kQ4_K: return DotK45<false>(lut, p, x, n / 256);
    case TensorType::kQ5_K: return DotK45<true>(lut, p, x, n / 256);
    case TensorType::kQ6_K: return DotQ6_K(lut, p, x, n / 256);
    default: {
      float* w = internal::ThreadScratch(internal::ScratchSlot::kRow, n);
      scalar::DequantizeRow(type, row, w, n);
      return DotWeights(w, x, n);
    }
  }
}

}  // namespace parley::avx2
