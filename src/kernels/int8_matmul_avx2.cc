// AVX2 W8A8 product (int8_matmul.h). Half a packed tile line is one vector of 8 row lanes
// x 4 bytes. maddubs on |w| and the token's 4 activation bytes (broadcast) with
// w's sign cannot saturate (each pair is at most 2 x 127 x 127), and madd with ones sums
// each row's 4 products into its int32 lane: the exact block sums, with no bias to remove.
// Tiles of one panel x 2 tokens. Compiled only with the AVX2 flags; templates in an
// anonymous namespace (no weak symbols, see avx2_decode_inl.h). Reentrant.
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "kernels/int8_matmul_internal.h"

namespace parley::avx2 {
namespace {

inline __m256i Broadcast4(const int8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm256_set1_epi32(v);
}

// y[t + j][panel's rows] = acc[j] (two halves of 8 rows) * the rows' scales, for nt
// tokens; rows at or past row_end are not stored.
inline void StorePanel(const Int8Matrix& w, float* y, int64_t y_stride, int64_t panel, int64_t t, int nt,
                       const __m256 (*acc)[2], int64_t row_end) {
  const int64_t r = panel * kI8Panel;
  const int64_t n = row_end - r < 16 ? row_end - r : 16;
  float out[16];
  for (int j = 0; j < nt; ++j) {
    for (int h = 0; h < 2; ++h) _mm256_storeu_ps(out + 8 * h, _mm256_mul_ps(acc[j][h], _mm256_loadu_ps(w.scale.data() + r + 8 * h)));
    std::memcpy(y + (t + j) * y_stride + r, out, sizeof(float) * static_cast<size_t>(n));
  }
}

template <int NT>
void Tile(const I8MatMulArgs& a, int64_t p, int64_t t, int64_t row_end) {
  const Int8Matrix& w = *a.w;
  const int64_t blocks = w.blocks();
  const int64_t xs_stride = a.x_stride / kI8Block;
  const __m256i ones = _mm256_set1_epi16(1);
  __m256 acc[NT][2];
  for (int j = 0; j < NT; ++j) acc[j][0] = acc[j][1] = _mm256_setzero_ps();
  for (int64_t b = 0; b < blocks; ++b) {
    __m256i dp[NT][2];
    for (int j = 0; j < NT; ++j) dp[j][0] = dp[j][1] = _mm256_setzero_si256();
    const int8_t* wt = w.tile(p, b);
    const int8_t* xb = a.x + t * a.x_stride + b * kI8Block;
    for (int g = 0; g < 16; ++g) {
      for (int h = 0; h < 2; ++h) {
        const __m256i wv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wt + g * 64 + h * 32));
        const __m256i aw = _mm256_sign_epi8(wv, wv);
        for (int j = 0; j < NT; ++j) {
          const __m256i xv = _mm256_sign_epi8(Broadcast4(xb + j * a.x_stride + 4 * g), wv);
          dp[j][h] = _mm256_add_epi32(dp[j][h], _mm256_madd_epi16(_mm256_maddubs_epi16(aw, xv), ones));
        }
      }
    }
    for (int j = 0; j < NT; ++j) {
      const __m256 xs = _mm256_set1_ps(a.x_scale[(t + j) * xs_stride + b]);
      for (int h = 0; h < 2; ++h) acc[j][h] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dp[j][h]), xs, acc[j][h]);
    }
  }
  StorePanel(w, a.y, a.y_stride, p, t, NT, acc, row_end);
}

// The head (MatMulRowsI8I16): half a line's 4 bytes per row lane become two int16 pairs,
// (b0, b2) and (b1, b3); vpmaddwd with the matching activation pair gives each lane's two
// products summed: exact int32 block sums.
inline __m256i Pair(const int16_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm256_set1_epi32(v);
}

template <int NT>
void TileI16(const I8F32MatMulArgs& a, int64_t p, int64_t t0, int64_t row_end) {
  const Int8Matrix& w = *a.w;
  const I16Activations& x = *a.x;
  const int64_t blocks = w.head_blocks();
  __m256 acc[NT][2];
  for (int t = 0; t < NT; ++t) acc[t][0] = acc[t][1] = _mm256_setzero_ps();
  for (int64_t b = 0; b < blocks; ++b) {
    __m256i s[NT][2];
    for (int t = 0; t < NT; ++t) s[t][0] = s[t][1] = _mm256_setzero_si256();
    for (int64_t g = b * (kI8HeadBlock / 4); g < (b + 1) * (kI8HeadBlock / 4); ++g) {
      const int8_t* line = w.tile(p, g / 16) + (g % 16) * 64;
      for (int h = 0; h < 2; ++h) {
        const __m256i half = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(line + 32 * h));
        const __m256i lo = _mm256_srai_epi16(_mm256_slli_epi16(half, 8), 8);  // (b0, b2)
        const __m256i hi = _mm256_srai_epi16(half, 8);                       // (b1, b3)
        for (int t = 0; t < NT; ++t) {
          const int16_t* xq = x.q.data() + (t0 + t) * w.stride + 4 * g;
          s[t][h] = _mm256_add_epi32(s[t][h], _mm256_add_epi32(_mm256_madd_epi16(lo, Pair(xq)), _mm256_madd_epi16(hi, Pair(xq + 2))));
        }
      }
    }
    const uint16_t* bs = w.head_block_scales(p, b);
    for (int h = 0; h < 2; ++h) {
      const __m256 ws = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(bs + 8 * h)));
      for (int t = 0; t < NT; ++t) {
        const __m256 scale = _mm256_mul_ps(ws, _mm256_set1_ps(x.scales[(t0 + t) * blocks + b]));
        acc[t][h] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s[t][h]), scale, acc[t][h]);
      }
    }
  }
  StorePanel(w, a.y, a.y_stride, p, t0, NT, acc, row_end);
}

}  // namespace

void MatMulRowsI8I16(const I8F32MatMulArgs& a, int64_t t_begin, int64_t t_end, int64_t row_begin, int64_t row_end) {
  const int64_t p_end = (row_end + kI8Panel - 1) / kI8Panel;
  for (int64_t p = row_begin / kI8Panel; p < p_end; ++p) {
    int64_t t = t_begin;
    for (; t + 2 <= t_end; t += 2) TileI16<2>(a, p, t, row_end);
    if (t < t_end) TileI16<1>(a, p, t, row_end);
  }
}

// The scalar QuantizeActivationI8's operations on 8 lanes: the same max, the same
// x * (127 / amax), + or - 0.5 and truncation, so the bytes are identical.
void QuantizeActivationI8(const float* x, int64_t cols, int8_t* q, int64_t stride, float* scales) {
  const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
  const __m256 half = _mm256_set1_ps(0.5f);
  const __m256i lo = _mm256_set1_epi32(-127), hi = _mm256_set1_epi32(127);
  for (int64_t b = 0; b * kI8Block < stride; ++b) {
    const int64_t begin = b * kI8Block;
    const int64_t n = cols - begin >= kI8Block ? kI8Block : (cols > begin ? cols - begin : 0);
    float tail[kI8Block] = {};
    const float* v = x + begin;
    if (n < kI8Block) {  // a partial (or padding) block: zeros past cols
      std::memcpy(tail, x + begin, sizeof(float) * static_cast<size_t>(n));
      v = tail;
    }
    __m256 m = _mm256_setzero_ps();
    for (int i = 0; i < kI8Block; i += 8) m = _mm256_max_ps(m, _mm256_and_ps(_mm256_loadu_ps(v + i), abs_mask));
    __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
    m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
    m4 = _mm_max_ss(m4, _mm_shuffle_ps(m4, m4, 1));
    const float amax = _mm_cvtss_f32(m4);
    scales[b] = amax / 127.0f;
    const __m256 inv = _mm256_set1_ps(amax > 0.0f ? 127.0f / amax : 0.0f);
    for (int i = 0; i < kI8Block; i += 8) {
      const __m256 s = _mm256_mul_ps(_mm256_loadu_ps(v + i), inv);
      const __m256 r = _mm256_add_ps(s, _mm256_or_ps(half, _mm256_andnot_ps(abs_mask, s)));  // s +- 0.5
      const __m256i k = _mm256_min_epi32(_mm256_max_epi32(_mm256_cvttps_epi32(r), lo), hi);
      const __m128i k16 = _mm_packs_epi32(_mm256_castsi256_si128(k), _mm256_extracti128_si256(k, 1));
      _mm_storel_epi64(reinterpret_cast<__m128i*>(q + begin + i), _mm_packs_epi16(k16, k16));
    }
  }
}

void MatMulRowsI8(const I8MatMulArgs& a, int64_t row_begin, int64_t row_end) {
  const int64_t p_end = (row_end + kI8Panel - 1) / kI8Panel;
  for (int64_t p = row_begin / kI8Panel; p < p_end; ++p) {
    int64_t t = 0;
    for (; t + 2 <= a.num_tokens; t += 2) Tile<2>(a, p, t, row_end);
    if (t < a.num_tokens) Tile<1>(a, p, t, row_end);
  }
}

}  // namespace parley::avx2
