// AVX2 + FMA + F16C weight-row kernels. Hot types (Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K,
// Q6_K, F32, F16, BF16) decode each block into registers and FMA against f32 activations;
// Q2_K and Q3_K dequantize through the scalar code into thread-local scratch. Dequantized
// values are bit-identical to the scalar reference (same operations; the file is compiled
// with -ffp-contract=off, so only explicit FMAs fuse). Compiled only with -mavx2 -mfma
// -mf16c; reached through quant.cc after the CPU check. Reentrant.
#include <immintrin.h>

#include <cstdint>

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

// The kernel set the shared row entry points (simd/quant_inl.h) are instantiated with.
struct Kernels {
  using V = simd::VecAvx2;
  static constexpr auto kQ4_0 = FloatsQ4_0, kQ4_1 = FloatsQ4_1, kQ5_0 = FloatsQ5_0,
                        kQ5_1 = FloatsQ5_1, kQ8_0 = FloatsQ8_0;
  static constexpr auto kDotWeights = DotWeights;
  static constexpr auto kDotF16 = DotHalfType<LoadF16x8, TensorType::kF16>, kDotBF16 = DotHalfType<LoadBf16x8, TensorType::kBF16>;
  static constexpr auto kDequantF16 = DequantHalfType<LoadF16x8, TensorType::kF16>, kDequantBF16 = DequantHalfType<LoadBf16x8, TensorType::kBF16>;
};

}  // namespace

void DequantizeRow(TensorType type, const void* row, float* dst, int64_t n) {
  simd::DequantizeRowOf<Kernels>(type, row, dst, n);
}

float DotRow(TensorType type, const void* row, const float* x, int64_t n) {
  return simd::DotRowOf<Kernels>(type, row, x, n);
}

}  // namespace parley::avx2
