// AVX2 W8A8 product (int8_matmul.h): maddubs on |w| and x with w's sign (both within 127,
// so the 16-bit pair sums cannot saturate), madd to int32 lanes of 4-byte groups; a 64-byte
// chunk is two vectors, lanes 0-7 and 8-15. Per block of kI8Block values the lanes are
// converted and scaled into float lanes with one FMA. Tiles of 2 rows x 2 tokens (8 int32
// and 8 float accumulators). Compiled only with the AVX2 flags; templates in an anonymous
// namespace (no weak symbols, see avx2_decode_inl.h). Reentrant.
#include <immintrin.h>

#include <cstdint>

#include "kernels/int8_matmul_internal.h"

namespace parley::avx2 {
namespace {

// SumLanes16 of lanes 0-7 (lo) and 8-15 (hi).
inline float SumLanes(__m256 lo, __m256 hi) {
  const __m256 s8 = _mm256_add_ps(lo, hi);
  const __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(s8), _mm256_extractf128_ps(s8, 1));
  const __m128 s2 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
  return _mm_cvtss_f32(_mm_add_ss(s2, _mm_shuffle_ps(s2, s2, 1)));
}

template <int NR, int NT>
void Tile(const I8MatMulArgs& a, int64_t r, int64_t t) {
  const Int8Rows& w = *a.w;
  const int64_t blocks = w.stride / kI8Block;
  const int64_t xs_stride = a.x_stride / kI8Block;
  const __m256i ones = _mm256_set1_epi16(1);
  __m256 acc[NR][NT][2];
  for (int i = 0; i < NR; ++i) {
    for (int j = 0; j < NT; ++j) acc[i][j][0] = acc[i][j][1] = _mm256_setzero_ps();
  }
  const int8_t* wr = w.q.data() + r * w.stride;
  const int8_t* xt = a.x + t * a.x_stride;
  for (int64_t b = 0; b < blocks; ++b) {
    __m256i sums[NR][NT][2];
    for (int i = 0; i < NR; ++i) {
      for (int j = 0; j < NT; ++j) sums[i][j][0] = sums[i][j][1] = _mm256_setzero_si256();
    }
    for (int64_t c = b * kI8Block; c < (b + 1) * kI8Block; c += 64) {
      for (int h = 0; h < 2; ++h) {
        for (int i = 0; i < NR; ++i) {
          const __m256i wv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wr + i * w.stride + c + 32 * h));
          const __m256i aw = _mm256_sign_epi8(wv, wv);
          for (int j = 0; j < NT; ++j) {
            const __m256i xv =
                _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xt + j * a.x_stride + c + 32 * h));
            const __m256i p16 = _mm256_maddubs_epi16(aw, _mm256_sign_epi8(xv, wv));
            sums[i][j][h] = _mm256_add_epi32(sums[i][j][h], _mm256_madd_epi16(p16, ones));
          }
        }
      }
    }
    for (int j = 0; j < NT; ++j) {
      const __m256 xs = _mm256_set1_ps(a.x_scale[(t + j) * xs_stride + b]);
      for (int i = 0; i < NR; ++i) {
        for (int h = 0; h < 2; ++h) acc[i][j][h] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sums[i][j][h]), xs, acc[i][j][h]);
      }
    }
  }
  for (int i = 0; i < NR; ++i) {
    for (int j = 0; j < NT; ++j) {
      a.y[(t + j) * a.y_stride + r + i] = SumLanes(acc[i][j][0], acc[i][j][1]) * w.scale[r + i];
    }
  }
}

template <int NR>
void RowTile(const I8MatMulArgs& a, int64_t r) {
  int64_t t = 0;
  for (; t + 2 <= a.num_tokens; t += 2) Tile<NR, 2>(a, r, t);
  if (t < a.num_tokens) Tile<NR, 1>(a, r, t);
}

}  // namespace

void MatMulRowsI8(const I8MatMulArgs& a, int64_t row_begin, int64_t row_end) {
  int64_t r = row_begin;
  for (; r + 2 <= row_end; r += 2) RowTile<2>(a, r);
  if (r < row_end) RowTile<1>(a, r);
}

}  // namespace parley::avx2
