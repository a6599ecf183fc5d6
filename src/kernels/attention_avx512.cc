// AVX-512 attention kernels (attention.h): simd/attention_inl.h instantiated with
// VecAvx512, plus AVX-512-only score kernels (16 keys per head at a time with folded
// reductions, f32 rows 8 keys at a time for 2-3 heads, f16/int8 rows converted once).
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

#include "kernels/attention_internal.h"
#include "kernels/simd/attention_inl.h"
#include "kernels/simd/vec_avx512_inl.h"

namespace parley::avx512 {
namespace {

using simd::VecAvx512;

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
    for (int j = 0; j < 16; ++j) acc[j] = _mm512_fmadd_ps(qv, VecAvx512::LoadKv<F>(k[j], i, d), acc[j]);
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

// f32 rows go through the grouped 8-key kernel, f16 / int8 rows are converted first, then
// 16 keys per head at a time; the last len % 16 keys take the generic per-row kernel.
template <KvRowFormat F>
struct ScoresAll {
  static void Run(const float* q, int32_t heads, int32_t d, const uint8_t* const* k, int32_t len, float* s) {
    int32_t j = 0;
    if (F != KvRowFormat::kF32 && heads > 1 && d <= kMaxConvertD) {
      // f16 / int8 rows: 16 rows converted to f32 (int8: scaled) once for all the heads, then
      // the f32 kernel.
      alignas(64) float rows[16 * kMaxConvertD];
      const uint8_t* ptr[16];
      for (int i = 0; i < 16; ++i) ptr[i] = reinterpret_cast<const uint8_t*>(rows + i * d);
      for (; j + 16 <= len; j += 16) {
        for (int i = 0; i < 16; ++i) {
          for (int32_t c = 0; c < d; c += 16) _mm512_store_ps(rows + i * d + c, VecAvx512::LoadKv<F>(k[j + i], c, d));
        }
        ScoresF32Grouped(q, heads, d, ptr, 16, s + j, len);
      }
    }
    if (F == KvRowFormat::kF32 && heads > 1) j += ScoresF32Grouped(q, heads, d, k + j, len - j, s + j, len);
    for (; j + 16 <= len; j += 16) {
      for (int32_t h = 0; h < heads; ++h) _mm512_storeu_ps(s + h * len + j, Scores16<F>(q + h * d, d, k + j));
    }
    if (j == len) return;
    simd::ScoresHeads<VecAvx512, F>(q, heads, d, k + j, len - j, s + j, len);
  }
};

}  // namespace

void AttendScores(const float* q, int32_t heads, int32_t d, const uint8_t* const* k, int32_t len, KvRowFormat format,
                  float* s) {
  simd::AttendScoresT<ScoresAll>(q, heads, d, k, len, format, s);
}

void AttendMix(const float* p, int32_t heads, int32_t d, const uint8_t* const* v, int32_t len, KvRowFormat format,
               float* acc) {
  simd::AttendMixT<VecAvx512>(p, heads, d, v, len, format, acc);
}

}  // namespace parley::avx512
