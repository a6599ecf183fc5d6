// AVX-512 attention kernels (attention.h): up to four query heads per pass over the K/V
// rows, each row loaded once per pass. Compiled only with the AVX-512 flags; templates in
// an anonymous namespace (no weak symbols, see avx2_decode_inl.h). Stateless; thread-safe.

// GCC 12's AVX-512 headers trip -Wmaybe-uninitialized on their own placeholders (GCC bug
// 105593); silence it for the header only.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop

#include <cstdint>

#include "kernels/attention_internal.h"

namespace parley::avx512 {
namespace {

template <bool F16>
inline __m512 Load16(const uint8_t* row, int32_t i) {
  if constexpr (F16) {
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + 2 * i)));
  } else {
    return _mm512_loadu_ps(reinterpret_cast<const float*>(row) + i);
  }
}

// NB heads (q rows at q, stride d) against every K row; two accumulators per head.
template <int NB, bool F16>
void Scores(const float* q, int32_t d, const uint8_t* const* k, int32_t len, float* s, int32_t ld) {
  for (int32_t j = 0; j < len; ++j) {
    const uint8_t* row = k[j];
    __m512 acc[NB][2];
    for (int g = 0; g < NB; ++g) acc[g][0] = acc[g][1] = _mm512_setzero_ps();
    int32_t i = 0;
    for (; i + 32 <= d; i += 32) {
      const __m512 k0 = Load16<F16>(row, i), k1 = Load16<F16>(row, i + 16);
      for (int g = 0; g < NB; ++g) {
        acc[g][0] = _mm512_fmadd_ps(_mm512_loadu_ps(q + g * d + i), k0, acc[g][0]);
        acc[g][1] = _mm512_fmadd_ps(_mm512_loadu_ps(q + g * d + i + 16), k1, acc[g][1]);
      }
    }
    if (i < d) {  // d % 32 == 16
      const __m512 k0 = Load16<F16>(row, i);
      for (int g = 0; g < NB; ++g) acc[g][0] = _mm512_fmadd_ps(_mm512_loadu_ps(q + g * d + i), k0, acc[g][0]);
    }
    for (int g = 0; g < NB; ++g) s[g * ld + j] = _mm512_reduce_add_ps(_mm512_add_ps(acc[g][0], acc[g][1]));
  }
}

// NB heads' weights (p rows at p, stride ld) times the V rows, W vectors of 16 columns at a
// time starting at column c.
template <int NB, int W, bool F16>
void MixColumns(const float* p, int32_t ld, int32_t d, const uint8_t* const* v, int32_t len, int32_t c, float* acc) {
  __m512 sum[NB][W];
  for (int g = 0; g < NB; ++g) {
    for (int w = 0; w < W; ++w) sum[g][w] = _mm512_setzero_ps();
  }
  for (int32_t j = 0; j < len; ++j) {
    __m512 x[W];
    for (int w = 0; w < W; ++w) x[w] = Load16<F16>(v[j], c + 16 * w);
    for (int g = 0; g < NB; ++g) {
      const __m512 pj = _mm512_set1_ps(p[g * ld + j]);
      for (int w = 0; w < W; ++w) sum[g][w] = _mm512_fmadd_ps(pj, x[w], sum[g][w]);
    }
  }
  for (int g = 0; g < NB; ++g) {
    for (int w = 0; w < W; ++w) _mm512_storeu_ps(acc + g * d + c + 16 * w, sum[g][w]);
  }
}

template <int NB, bool F16>
void Mix(const float* p, int32_t ld, int32_t d, const uint8_t* const* v, int32_t len, float* acc) {
  int32_t c = 0;
  for (; c + 64 <= d; c += 64) MixColumns<NB, 4, F16>(p, ld, d, v, len, c, acc);
  for (; c < d; c += 16) MixColumns<NB, 1, F16>(p, ld, d, v, len, c, acc);
}

template <bool F16>
void ScoresAll(const float* q, int32_t heads, int32_t d, const uint8_t* const* k, int32_t len, float* s) {
  int32_t h = 0;
  for (; h + 4 <= heads; h += 4) Scores<4, F16>(q + h * d, d, k, len, s + h * len, len);
  switch (heads - h) {
    case 3: Scores<3, F16>(q + h * d, d, k, len, s + h * len, len); break;
    case 2: Scores<2, F16>(q + h * d, d, k, len, s + h * len, len); break;
    case 1: Scores<1, F16>(q + h * d, d, k, len, s + h * len, len); break;
    default: break;
  }
}

template <bool F16>
void MixAll(const float* p, int32_t heads, int32_t d, const uint8_t* const* v, int32_t len, float* acc) {
  int32_t h = 0;
  for (; h + 4 <= heads; h += 4) Mix<4, F16>(p + h * len, len, d, v, len, acc + h * d);
  switch (heads - h) {
    case 3: Mix<3, F16>(p + h * len, len, d, v, len, acc + h * d); break;
    case 2: Mix<2, F16>(p + h * len, len, d, v, len, acc + h * d); break;
    case 1: Mix<1, F16>(p + h * len, len, d, v, len, acc + h * d); break;
    default: break;
  }
}

}  // namespace

void AttendScores(const float* q, int32_t heads, int32_t d, const uint8_t* const* k, int32_t len, bool f16, float* s) {
  if (f16) {
    ScoresAll<true>(q, heads, d, k, len, s);
  } else {
    ScoresAll<false>(q, heads, d, k, len, s);
  }
}

void AttendMix(const float* p, int32_t heads, int32_t d, const uint8_t* const* v, int32_t len, bool f16, float* acc) {
  if (f16) {
    MixAll<true>(p, heads, d, v, len, acc);
  } else {
    MixAll<false>(p, heads, d, v, len, acc);
  }
}

}  // namespace parley::avx512
