// AVX2 attention kernels (attention.h): up to four query heads per pass over the K/V rows,
// each row loaded once per pass (int8 rows widened to f32 and scaled in registers).
// Compiled only with the AVX2 flags; templates in an anonymous namespace (no weak symbols,
// see avx2_decode_inl.h). Stateless; thread-safe.
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "kernels/attention_internal.h"

namespace parley::avx2 {
namespace {

// Values i..i+7 of a row of d values as floats (int8 rows: times their group's f16 scale,
// read here with F16C rather than by a call to KvI8Scale).
template <KvRowFormat F>
inline __m256 Load8(const uint8_t* row, int32_t i, int32_t d) {
  if constexpr (F == KvRowFormat::kF16) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + 2 * i)));
  } else if constexpr (F == KvRowFormat::kI8) {
    uint16_t scale;
    std::memcpy(&scale, row + d + sizeof(uint16_t) * (i / kKvI8Group), sizeof(scale));
    const __m256 q = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(row + i))));
    return _mm256_mul_ps(q, _mm256_set1_ps(_cvtsh_ss(scale)));
  } else {
    return _mm256_loadu_ps(reinterpret_cast<const float*>(row) + i);
  }
}

inline float Sum8(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

template <int NB, KvRowFormat F>
void Scores(const float* q, int32_t d, const uint8_t* const* k, int32_t len, float* s, int32_t ld) {
  for (int32_t j = 0; j < len; ++j) {
    const uint8_t* row = k[j];
    __m256 acc[NB][2];
    for (int g = 0; g < NB; ++g) acc[g][0] = acc[g][1] = _mm256_setzero_ps();
    int32_t i = 0;
    for (; i + 16 <= d; i += 16) {
      const __m256 k0 = Load8<F>(row, i, d), k1 = Load8<F>(row, i + 8, d);
      for (int g = 0; g < NB; ++g) {
        acc[g][0] = _mm256_fmadd_ps(_mm256_loadu_ps(q + g * d + i), k0, acc[g][0]);
        acc[g][1] = _mm256_fmadd_ps(_mm256_loadu_ps(q + g * d + i + 8), k1, acc[g][1]);
      }
    }
    if (i < d) {  // d % 16 == 8
      const __m256 k0 = Load8<F>(row, i, d);
      for (int g = 0; g < NB; ++g) acc[g][0] = _mm256_fmadd_ps(_mm256_loadu_ps(q + g * d + i), k0, acc[g][0]);
    }
    for (int g = 0; g < NB; ++g) s[g * ld + j] = Sum8(_mm256_add_ps(acc[g][0], acc[g][1]));
  }
}

template <int NB, int W, KvRowFormat F>
void MixColumns(const float* p, int32_t ld, int32_t d, const uint8_t* const* v, int32_t len, int32_t c, float* acc) {
  __m256 sum[NB][W];
  for (int g = 0; g < NB; ++g) {
    for (int w = 0; w < W; ++w) sum[g][w] = _mm256_setzero_ps();
  }
  for (int32_t j = 0; j < len; ++j) {
    __m256 x[W];
    for (int w = 0; w < W; ++w) x[w] = Load8<F>(v[j], c + 8 * w, d);
    for (int g = 0; g < NB; ++g) {
      const __m256 pj = _mm256_set1_ps(p[g * ld + j]);
      for (int w = 0; w < W; ++w) sum[g][w] = _mm256_fmadd_ps(pj, x[w], sum[g][w]);
    }
  }
  for (int g = 0; g < NB; ++g) {
    for (int w = 0; w < W; ++w) _mm256_storeu_ps(acc + g * d + c + 8 * w, sum[g][w]);
  }
}

template <int NB, KvRowFormat F>
void Mix(const float* p, int32_t ld, int32_t d, const uint8_t* const* v, int32_t len, float* acc) {
  int32_t c = 0;
  for (; c + 16 <= d; c += 16) MixColumns<NB, 2, F>(p, ld, d, v, len, c, acc);
  for (; c < d; c += 8) MixColumns<NB, 1, F>(p, ld, d, v, len, c, acc);
}

template <KvRowFormat F>
void ScoresAll(const float* q, int32_t heads, int32_t d, const uint8_t* const* k, int32_t len, float* s) {
  int32_t h = 0;
  for (; h + 4 <= heads; h += 4) Scores<4, F>(q + h * d, d, k, len, s + h * len, len);
  switch (heads - h) {
    case 3: Scores<3, F>(q + h * d, d, k, len, s + h * len, len); break;
    case 2: Scores<2, F>(q + h * d, d, k, len, s + h * len, len); break;
    case 1: Scores<1, F>(q + h * d, d, k, len, s + h * len, len); break;
    default: break;
  }
}

template <KvRowFormat F>
void MixAll(const float* p, int32_t heads, int32_t d, const uint8_t* const* v, int32_t len, float* acc) {
  int32_t h = 0;
  for (; h + 4 <= heads; h += 4) Mix<4, F>(p + h * len, len, d, v, len, acc + h * d);
  switch (heads - h) {
    case 3: Mix<3, F>(p + h * len, len, d, v, len, acc + h * d); break;
    case 2: Mix<2, F>(p + h * len, len, d, v, len, acc + h * d); break;
    case 1: Mix<1, F>(p + h * len, len, d, v, len, acc + h * d); break;
    default: break;
  }
}

}  // namespace

void AttendScores(const float* q, int32_t heads, int32_t d, const uint8_t* const* k, int32_t len, KvRowFormat format,
                  float* s) {
  switch (format) {
    case KvRowFormat::kF32: return ScoresAll<KvRowFormat::kF32>(q, heads, d, k, len, s);
    case KvRowFormat::kF16: return ScoresAll<KvRowFormat::kF16>(q, heads, d, k, len, s);
    case KvRowFormat::kI8: return ScoresAll<KvRowFormat::kI8>(q, heads, d, k, len, s);
  }
}

void AttendMix(const float* p, int32_t heads, int32_t d, const uint8_t* const* v, int32_t len, KvRowFormat format,
               float* acc) {
  switch (format) {
    case KvRowFormat::kF32: return MixAll<KvRowFormat::kF32>(p, heads, d, v, len, acc);
    case KvRowFormat::kF16: return MixAll<KvRowFormat::kF16>(p, heads, d, v, len, acc);
    case KvRowFormat::kI8: return MixAll<KvRowFormat::kI8>(p, heads, d, v, len, acc);
  }
}

}  // namespace parley::avx2
