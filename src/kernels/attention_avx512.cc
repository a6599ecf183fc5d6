// AVX-512 attention kernels (attention.h): up to four query heads per pass over the K/V
// rows, each row loaded once per pass (int8 rows widened to f32 and scaled in registers).
// Compiled only with the AVX-512 flags; templates in an anonymous namespace (no weak
// symbols, see avx2_decode_inl.h). Stateless; thread-safe.

// GCC 12's AVX-512 headers trip -Wmaybe-uninitialized on their own placeholders (GCC bug
// 105593); silence it for the header only.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop

#include <cstdint>
#include <cstring>

#include "kernels/attention_internal.h"

namespace parley::avx512 {
namespace {

// Values i..i+15 of a row of d values as floats (int8 rows: times their group's f16 scale,
// read here with F16C rather than by a call to KvI8Scale).
template <KvRowFormat F>
inline __m512 Load16(const uint8_t* row, int32_t i, int32_t d) {
  if constexpr (F == KvRowFormat::kF16) {
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + 2 * i)));
  } else if constexpr (F == KvRowFormat::kI8) {
    uint16_t scale;
    std::memcpy(&scale, row + d + sizeof(uint16_t) * (i / kKvI8Group), sizeof(scale));
    const __m512 q = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + i))));
    return _mm512_mul_ps(q, _mm512_set1_ps(_cvtsh_ss(scale)));
  } else {
    return _mm512_loadu_ps(reinterpret_cast<const float*>(row) + i);
  }
}

// NB heads (q rows at q, stride d) against every K row; two accumulators per head.
template <int NB, KvRowFormat F>
void Scores(const float* q, int32_t d, const uint8_t* const* k, int32_t len, float* s, int32_t ld) {
  for (int32_t j = 0; j < len; ++j) {
    const uint8_t* row = k[j];
    __m512 acc[NB][2];
    for (int g = 0; g < NB; ++g) acc[g][0] = acc[g][1] = _mm512_setzero_ps();
    int32_t i = 0;
    for (; i + 32 <= d; i += 32) {
      const __m512 k0 = Load16<F>(row, i, d), k1 = Load16<F>(row, i + 16, d);
      for (int g = 0; g < NB; ++g) {
        acc[g][0] = _mm512_fmadd_ps(_mm512_loadu_ps(q + g * d + i), k0, acc[g][0]);
        acc[g][1] = _mm512_fmadd_ps(_mm512_loadu_ps(q + g * d + i + 16), k1, acc[g][1]);
      }
    }
    if (i < d) {  // d % 32 == 16
      const __m512 k0 = Load16<F>(row, i, d);
      for (int g = 0; g < NB; ++g) acc[g][0] = _mm512_fmadd_ps(_mm512_loadu_ps(q + g * d + i), k0, acc[g][0]);
    }
    for (int g = 0; g < NB; ++g) s[g * ld + j] = _mm512_reduce_add_ps(_mm512_add_ps(acc[g][0], acc[g][1]));
  }
}

// NB heads' weights (p rows at p, stride ld) times the V rows, W vectors of 16 columns at a
// time starting at column c.
template <int NB, int W, KvRowFormat F>
void MixColumns(const float* p, int32_t ld, int32_t d, const uint8_t* const* v, int32_t len, int32_t c, float* acc) {
  __m512 sum[NB][W];
  for (int g = 0; g < NB; ++g) {
    for (int w = 0; w < W; ++w) sum[g][w] = _mm512_setzero_ps();
  }
  for (int32_t j = 0; j < len; ++j) {
    __m512 x[W];
    for (int w = 0; w < W; ++w) x[w] = Load16<F>(v[j], c + 16 * w, d);
    for (int g = 0; g < NB; ++g) {
      const __m512 pj = _mm512_set1_ps(p[g * ld + j]);
      for (int w = 0; w < W; ++w) sum[g][w] = _mm512_fmadd_ps(pj, x[w], sum[g][w]);
    }
  }
  for (int g = 0; g < NB; ++g) {
    for (int w = 0; w < W; ++w) _mm512_storeu_ps(acc + g * d + c + 16 * w, sum[g][w]);
  }
}

template <int NB, KvRowFormat F>
void Mix(const float* p, int32_t ld, int32_t d, const uint8_t* const* v, int32_t len, float* acc) {
  int32_t c = 0;
  for (; c + 64 <= d; c += 64) MixColumns<NB, 4, F>(p, ld, d, v, len, c, acc);
  for (; c < d; c += 16) MixColumns<NB, 1, F>(p, ld, d, v, len, c, acc);
}

// The 16 lane sums of a[0..15] as one vector, in order: pairs of vectors are folded
// (halves, then quarters, then within 128-bit lanes), 46 instructions for 16 sums instead
// of 16 separate reductions.
inline __m512 Sum16x16(const __m512* a) {
  __m512 t[8], u[4], v[2];
  for (int j = 0; j < 8; ++j) {  // t[j]: lanes [a[j] 8 partial sums | a[j + 8] 8 partial sums]
    t[j] = _mm512_add_ps(_mm512_shuffle_f32x4(a[j], a[j + 8], 0x44), _mm512_shuffle_f32x4(a[j], a[j + 8], 0xEE));
  }
  for (int j = 0; j < 4; ++j) {  // u[j]: 128-bit lanes of 4 partial sums of a[j], a[j+8], a[j+4], a[j+12]
    u[j] = _mm512_add_ps(_mm512_shuffle_f32x4(t[j], t[j + 4], 0x88), _mm512_shuffle_f32x4(t[j], t[j + 4], 0xDD));
  }
  for (int j = 0; j < 2; ++j) {  // v[j]: per lane, 2 partial sums of u[j]'s and u[j+2]'s vectors, interleaved
    v[j] = _mm512_add_ps(_mm512_unpacklo_ps(u[j], u[j + 2]), _mm512_unpackhi_ps(u[j], u[j + 2]));
  }
  // w lane L: totals of u[0], u[2], u[1], u[3]'s vector in lane L: keys 0 2 1 3 | 8 10 9 11 | 4 6 5 7 | 12 14 13 15.
  const __m512 w = _mm512_add_ps(_mm512_shuffle_ps(v[0], v[1], 0x44), _mm512_shuffle_ps(v[0], v[1], 0xEE));
  const __m512i order = _mm512_setr_epi32(0, 2, 1, 3, 8, 10, 9, 11, 4, 6, 5, 7, 12, 14, 13, 15);
  return _mm512_permutexvar_ps(order, w);
}

// One head against 16 K rows: one accumulator per row, then Sum16x16. REQUIRES d % 16 == 0.
template <KvRowFormat F>
inline __m512 Scores16(const float* q, int32_t d, const uint8_t* const* k) {
  __m512 acc[16];
  for (int j = 0; j < 16; ++j) acc[j] = _mm512_setzero_ps();
  for (int32_t i = 0; i < d; i += 16) {
    const __m512 qv = _mm512_loadu_ps(q + i);
    for (int j = 0; j < 16; ++j) acc[j] = _mm512_fmadd_ps(qv, Load16<F>(k[j], i, d), acc[j]);
  }
  return Sum16x16(acc);
}

// The 8 lane sums of a[0..7], in order, in the low half (folded as Sum16x16 does).
inline __m256 Sum8x16(const __m512* a) {
  __m512 t[4], u[2];
  for (int j = 0; j < 4; ++j) {  // t[j]: 128-bit lanes a[j] (2 partials), a[j + 4] (2 partials)
    t[j] = _mm512_add_ps(_mm512_shuffle_f32x4(a[j], a[j + 4], 0x44), _mm512_shuffle_f32x4(a[j], a[j + 4], 0xEE));
  }
  for (int j = 0; j < 2; ++j) {  // u[j]: 128-bit lanes of 4 partial sums of a[j], a[j+4], a[j+2], a[j+6]
    u[j] = _mm512_add_ps(_mm512_shuffle_f32x4(t[j], t[j + 2], 0x88), _mm512_shuffle_f32x4(t[j], t[j + 2], 0xDD));
  }
  const __m512 v = _mm512_add_ps(_mm512_unpacklo_ps(u[0], u[1]), _mm512_unpackhi_ps(u[0], u[1]));
  // w lane L, elements 0 and 1: totals of u[0]'s and u[1]'s vectors in lane L: keys 0 1 | 4 5 | 2 3 | 6 7.
  const __m512 w = _mm512_add_ps(v, _mm512_shuffle_ps(v, v, 0x4E));
  const __m512i order = _mm512_setr_epi32(0, 1, 8, 9, 4, 5, 12, 13, 0, 0, 0, 0, 0, 0, 0, 0);
  return _mm512_castps512_ps256(_mm512_permutexvar_ps(order, w));
}

// NB (2 or 3) heads against 8 f32 K rows: each K load feeds every head. REQUIRES d % 16 == 0.
template <int NB>
inline void Scores8(const float* q, int32_t d, const uint8_t* const* k, float* s, int32_t ld) {
  __m512 acc[NB][8];
  for (int h = 0; h < NB; ++h) {
    for (int j = 0; j < 8; ++j) acc[h][j] = _mm512_setzero_ps();
  }
  for (int32_t i = 0; i < d; i += 16) {
    __m512 qv[NB];
    for (int h = 0; h < NB; ++h) qv[h] = _mm512_loadu_ps(q + h * d + i);
    for (int j = 0; j < 8; ++j) {
      const __m512 kv = _mm512_loadu_ps(reinterpret_cast<const float*>(k[j]) + i);
      for (int h = 0; h < NB; ++h) acc[h][j] = _mm512_fmadd_ps(qv[h], kv, acc[h][j]);
    }
  }
  for (int h = 0; h < NB; ++h) _mm256_storeu_ps(s + h * ld, Sum8x16(acc[h]));
}

// f32 rows, 8 keys at a time, heads in passes of 3 or 2 (an odd remainder takes 3, an even
// one 2, so no single head is left). Returns the keys done (a multiple of 8). REQUIRES heads >= 2.
inline int32_t ScoresF32Grouped(const float* q, int32_t heads, int32_t d, const uint8_t* const* k, int32_t len,
                                float* s, int32_t ld) {
  int32_t j = 0;
  for (; j + 8 <= len; j += 8) {
    for (int32_t h = 0; h < heads;) {
      if ((heads - h) % 2 == 1) {
        Scores8<3>(q + h * d, d, k + j, s + h * ld + j, ld);
        h += 3;
      } else {
        Scores8<2>(q + h * d, d, k + j, s + h * ld + j, ld);
        h += 2;
      }
    }
  }
  return j;
}

// Up to 256 values per row: the widest head this converts for (wider ones convert per head).
constexpr int32_t kMaxConvertD = 256;

template <KvRowFormat F>
void ScoresAll(const float* q, int32_t heads, int32_t d, const uint8_t* const* k, int32_t len, float* s) {
  int32_t j = 0;
  if (F != KvRowFormat::kF32 && heads > 1 && d <= kMaxConvertD) {
    // f16 / int8 rows: 16 rows converted to f32 (int8: scaled) once for all the heads, then
    // the f32 kernel.
    alignas(64) float rows[16 * kMaxConvertD];
    const uint8_t* ptr[16];
    for (int i = 0; i < 16; ++i) ptr[i] = reinterpret_cast<const uint8_t*>(rows + i * d);
    for (; j + 16 <= len; j += 16) {
      for (int i = 0; i < 16; ++i) {
        for (int32_t c = 0; c < d; c += 16) _mm512_store_ps(rows + i * d + c, Load16<F>(k[j + i], c, d));
      }
      ScoresF32Grouped(q, heads, d, ptr, 16, s + j, len);
    }
  }
  if (F == KvRowFormat::kF32 && heads > 1) j += ScoresF32Grouped(q, heads, d, k + j, len - j, s + j, len);
  for (; j + 16 <= len; j += 16) {
    for (int32_t h = 0; h < heads; ++h) _mm512_storeu_ps(s + h * len + j, Scores16<F>(q + h * d, d, k + j));
  }
  if (j == len) return;
  const int32_t rest = len - j;
  int32_t h = 0;
  for (; h + 4 <= heads; h += 4) Scores<4, F>(q + h * d, d, k + j, rest, s + h * len + j, len);
  switch (heads - h) {
    case 3: Scores<3, F>(q + h * d, d, k + j, rest, s + h * len + j, len); break;
    case 2: Scores<2, F>(q + h * d, d, k + j, rest, s + h * len + j, len); break;
    case 1: Scores<1, F>(q + h * d, d, k + j, rest, s + h * len + j, len); break;
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

}  // namespace parley::avx512
