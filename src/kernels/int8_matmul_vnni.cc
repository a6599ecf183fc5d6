// AVX-512 VNNI W8A8 product (int8_matmul.h). vpdpbusd multiplies unsigned by signed bytes:
// it takes |w| and x with w's sign (x is within +-127, so negating it cannot overflow), and
// sums each 4-byte group into an int32 lane: the lanes int8_matmul.h defines. Per block of
// kI8Block values the lanes are converted and scaled into float lanes with one FMA. Tiles
// of 4 rows x 4 tokens; a row tile's bytes stay in L1 while every token passes. Compiled
// only with the AVX-512 VNNI flags; templates in an anonymous namespace (no weak symbols,
// see avx2_decode_inl.h). Reentrant.

// GCC 12's AVX-512 headers trip -Wmaybe-uninitialized on their own placeholders (GCC bug
// 105593); silence it for the header only.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop

#include <cstdint>

#include "kernels/int8_matmul_internal.h"

namespace parley::vnni {
namespace {

// SumLanes16 on a vector: lanes j + j+8, j + j+4, j + j+2, j + j+1.
inline float SumLanes(__m512 v) {
  const __m256 s8 = _mm256_add_ps(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1));
  const __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(s8), _mm256_extractf128_ps(s8, 1));
  const __m128 s2 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));  // [s4[0]+s4[2], s4[1]+s4[3]]
  return _mm_cvtss_f32(_mm_add_ss(s2, _mm_shuffle_ps(s2, s2, 1)));
}

template <int NR, int NT>
void Tile(const I8MatMulArgs& a, int64_t r, int64_t t) {
  const Int8Rows& w = *a.w;
  const int64_t blocks = w.stride / kI8Block;
  const int64_t xs_stride = a.x_stride / kI8Block;
  const __m512i zero = _mm512_setzero_si512();
  __m512 acc[NR][NT];
  for (int i = 0; i < NR; ++i) {
    for (int j = 0; j < NT; ++j) acc[i][j] = _mm512_setzero_ps();
  }
  const int8_t* wr = w.q.data() + r * w.stride;
  const int8_t* xt = a.x + t * a.x_stride;
  for (int64_t b = 0; b < blocks; ++b) {
    __m512i sums[NR][NT];
    for (int i = 0; i < NR; ++i) {
      for (int j = 0; j < NT; ++j) sums[i][j] = zero;
    }
    for (int64_t c = b * kI8Block; c < (b + 1) * kI8Block; c += 64) {
      __m512i xv[NT];
      for (int j = 0; j < NT; ++j) xv[j] = _mm512_loadu_si512(xt + j * a.x_stride + c);
      for (int i = 0; i < NR; ++i) {
        const __m512i wv = _mm512_loadu_si512(wr + i * w.stride + c);
        const __m512i aw = _mm512_abs_epi8(wv);
        const __mmask64 neg = _mm512_movepi8_mask(wv);
        for (int j = 0; j < NT; ++j) {
          sums[i][j] = _mm512_dpbusd_epi32(sums[i][j], aw, _mm512_mask_sub_epi8(xv[j], neg, zero, xv[j]));
        }
      }
    }
    for (int j = 0; j < NT; ++j) {
      const __m512 xs = _mm512_set1_ps(a.x_scale[(t + j) * xs_stride + b]);
      for (int i = 0; i < NR; ++i) acc[i][j] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sums[i][j]), xs, acc[i][j]);
    }
  }
  for (int i = 0; i < NR; ++i) {
    for (int j = 0; j < NT; ++j) a.y[(t + j) * a.y_stride + r + i] = SumLanes(acc[i][j]) * w.scale[r + i];
  }
}

template <int NR>
void RowTile(const I8MatMulArgs& a, int64_t r) {
  int64_t t = 0;
  for (; t + 4 <= a.num_tokens; t += 4) Tile<NR, 4>(a, r, t);
  switch (a.num_tokens - t) {
    case 3: Tile<NR, 3>(a, r, t); break;
    case 2: Tile<NR, 2>(a, r, t); break;
    case 1: Tile<NR, 1>(a, r, t); break;
    default: break;
  }
}

}  // namespace

void MatMulRowsI8(const I8MatMulArgs& a, int64_t row_begin, int64_t row_end) {
  int64_t r = row_begin;
  for (; r + 4 <= row_end; r += 4) RowTile<4>(a, r);
  switch (row_end - r) {
    case 3: RowTile<3>(a, r); break;
    case 2: RowTile<2>(a, r); break;
    case 1: RowTile<1>(a, r); break;
    default: break;
  }
}

}  // namespace parley::vnni
