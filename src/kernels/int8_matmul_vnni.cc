// AVX-512 VNNI W8A8 product (int8_matmul.h). A packed tile line is one vector of 16 row
// lanes x 4 bytes; vpdpbusd multiplies the token's 4 activation bytes, broadcast and biased
// to unsigned, by it and adds each row's 4 products to its int32 lane. After a block's 16 lines each
// lane holds the row's block sum plus the bias, which is subtracted before the block's
// FMA. Tiles of NP panels x NT tokens keep a panel group's weights in L1 while the tokens
// pass. Compiled only with the AVX-512 VNNI flags; templates in an anonymous namespace (no
// weak symbols, see avx2_decode_inl.h). Reentrant.

// GCC 12's AVX-512 headers trip -Wmaybe-uninitialized on their own placeholders (GCC bug
// 105593); silence it for the header only.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop

#include <cstdint>
#include <cstring>

#include "kernels/int8_matmul_internal.h"

namespace parley::vnni {
namespace {

// The token's 4 bytes in every lane, biased to unsigned (x + 128 = x ^ 0x80).
inline __m512i Broadcast4Biased(const int8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm512_xor_si512(_mm512_set1_epi32(v), _mm512_set1_epi8(static_cast<char>(0x80)));
}

// y[t + j][panel's rows] = acc[j * acc_stride] * the rows' scales, for nt tokens; rows at or
// past row_end are not stored. False when the panel starts at or past row_end.
inline bool StorePanel(const Int8Matrix& w, float* y, int64_t y_stride, int64_t panel, int64_t t, int nt,
                       const __m512* acc, int acc_stride, int64_t row_end) {
  const int64_t r = panel * kI8Panel;
  if (r >= row_end) return false;
  const __mmask16 keep = row_end - r >= 16 ? 0xffff : static_cast<__mmask16>((1u << (row_end - r)) - 1);
  const __m512 scale = _mm512_loadu_ps(w.scale.data() + r);
  for (int j = 0; j < nt; ++j) {
    _mm512_mask_storeu_ps(y + (t + j) * y_stride + r, keep, _mm512_mul_ps(acc[j * acc_stride], scale));
  }
  return true;
}

// Rows of panels [p, p + NP) for tokens [t, t + NT); rows at or past row_end are not stored.
template <int NP, int NT>
void Tile(const I8MatMulArgs& a, int64_t p, int64_t t, int64_t row_end) {
  const Int8Matrix& w = *a.w;
  const int64_t blocks = w.blocks();
  const int64_t xs_stride = a.x_stride / kI8Block;
  __m512 acc[NT][NP];
  for (int j = 0; j < NT; ++j) {
    for (int i = 0; i < NP; ++i) acc[j][i] = _mm512_setzero_ps();
  }
  const int8_t* xt = a.x + t * a.x_stride;
  for (int64_t b = 0; b < blocks; ++b) {
    __m512i dp[NT][NP];
    for (int j = 0; j < NT; ++j) {
      for (int i = 0; i < NP; ++i) dp[j][i] = _mm512_setzero_si512();
    }
    const int8_t* wt[NP];
    for (int i = 0; i < NP; ++i) wt[i] = w.tile(p + i, b);
    const int8_t* xb = xt + b * kI8Block;
    for (int g = 0; g < 16; ++g) {
      __m512i wv[NP];
      for (int i = 0; i < NP; ++i) wv[i] = _mm512_loadu_si512(wt[i] + g * 64);
      for (int j = 0; j < NT; ++j) {
        const __m512i xv = Broadcast4Biased(xb + j * a.x_stride + 4 * g);
        for (int i = 0; i < NP; ++i) dp[j][i] = _mm512_dpbusd_epi32(dp[j][i], xv, wv[i]);
      }
    }
    for (int i = 0; i < NP; ++i) {
      const __m512i bias = _mm512_loadu_si512(w.tile_bias(p + i, b));
      for (int j = 0; j < NT; ++j) {
        const __m512 xs = _mm512_set1_ps(a.x_scale[(t + j) * xs_stride + b]);
        acc[j][i] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(dp[j][i], bias)), xs, acc[j][i]);
      }
    }
  }
  for (int i = 0; i < NP && StorePanel(w, a.y, a.y_stride, p + i, t, NT, &acc[0][i], NP, row_end); ++i) {
  }
}

template <int NP>
void PanelGroup(const I8MatMulArgs& a, int64_t p, int64_t row_end) {
  int64_t t = 0;
  for (; t + 4 <= a.num_tokens; t += 4) Tile<NP, 4>(a, p, t, row_end);
  switch (a.num_tokens - t) {
    case 3: Tile<NP, 3>(a, p, t, row_end); break;
    case 2: Tile<NP, 2>(a, p, t, row_end); break;
    case 1: Tile<NP, 1>(a, p, t, row_end); break;
    default: break;
  }
}

// The head (MatMulRowsI8I16): a line's 4 bytes per row lane become two int16 pairs,
// (b0, b2) and (b1, b3), each multiplied by the matching activation pair (stored in that
// order) and summed into the lane by vpdpwssd: exact int32 block sums.
inline __m512i Pair(const int16_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm512_set1_epi32(v);
}

template <int NP, int NT>
void TileI16(const I8F32MatMulArgs& a, int64_t p0, int64_t t0, int64_t row_end) {
  const Int8Matrix& w = *a.w;
  const I16Activations& x = *a.x;
  const int64_t blocks = w.head_blocks();
  __m512 acc[NT][NP];
  for (int t = 0; t < NT; ++t) {
    for (int p = 0; p < NP; ++p) acc[t][p] = _mm512_setzero_ps();
  }
  for (int64_t b = 0; b < blocks; ++b) {
    __m512i s[NT][NP];
    for (int t = 0; t < NT; ++t) {
      for (int p = 0; p < NP; ++p) s[t][p] = _mm512_setzero_si512();
    }
    for (int64_t g = b * (kI8HeadBlock / 4); g < (b + 1) * (kI8HeadBlock / 4); ++g) {
      __m512i lo[NP], hi[NP];
      for (int p = 0; p < NP; ++p) {
        const __m512i line = _mm512_loadu_si512(w.tile(p0 + p, g / 16) + (g % 16) * 64);
        lo[p] = _mm512_srai_epi16(_mm512_slli_epi16(line, 8), 8);  // (b0, b2)
        hi[p] = _mm512_srai_epi16(line, 8);                       // (b1, b3)
      }
      for (int t = 0; t < NT; ++t) {
        const int16_t* xq = x.q.data() + (t0 + t) * w.stride + 4 * g;
        const __m512i xa = Pair(xq), xb = Pair(xq + 2);
        for (int p = 0; p < NP; ++p) s[t][p] = _mm512_dpwssd_epi32(_mm512_dpwssd_epi32(s[t][p], lo[p], xa), hi[p], xb);
      }
    }
    for (int p = 0; p < NP; ++p) {
      const __m512 ws = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(w.head_block_scales(p0 + p, b))));
      for (int t = 0; t < NT; ++t) {
        const __m512 scale = _mm512_mul_ps(ws, _mm512_set1_ps(x.scales[(t0 + t) * blocks + b]));
        acc[t][p] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s[t][p]), scale, acc[t][p]);
      }
    }
  }
  for (int p = 0; p < NP && StorePanel(w, a.y, a.y_stride, p0 + p, t0, NT, &acc[0][p], NP, row_end); ++p) {
  }
}

template <int NP>
void PanelGroupI16(const I8F32MatMulArgs& a, int64_t p, int64_t t_begin, int64_t t_end, int64_t row_end) {
  int64_t t = t_begin;
  for (; t + 3 <= t_end; t += 3) TileI16<NP, 3>(a, p, t, row_end);
  switch (t_end - t) {
    case 2: TileI16<NP, 2>(a, p, t, row_end); break;
    case 1: TileI16<NP, 1>(a, p, t, row_end); break;
    default: break;
  }
}

}  // namespace

void MatMulRowsI8I16(const I8F32MatMulArgs& a, int64_t t_begin, int64_t t_end, int64_t row_begin, int64_t row_end) {
  int64_t p = row_begin / kI8Panel;
  const int64_t p_end = (row_end + kI8Panel - 1) / kI8Panel;
  if (t_end - t_begin == 1) {
    for (; p + 4 <= p_end; p += 4) TileI16<4, 1>(a, p, t_begin, row_end);
  }
  for (; p + 2 <= p_end; p += 2) PanelGroupI16<2>(a, p, t_begin, t_end, row_end);
  if (p < p_end) PanelGroupI16<1>(a, p, t_begin, t_end, row_end);
}

void MatMulRowsI8(const I8MatMulArgs& a, int64_t row_begin, int64_t row_end) {
  int64_t p = row_begin / kI8Panel;
  const int64_t p_end = (row_end + kI8Panel - 1) / kI8Panel;
  if (a.num_tokens == 1) {  // a decode: four panels per pass, one vector of weights each
    for (; p + 4 <= p_end; p += 4) Tile<4, 1>(a, p, 0, row_end);
  }
  for (; p + 2 <= p_end; p += 2) PanelGroup<2>(a, p, row_end);
  if (p < p_end) PanelGroup<1>(a, p, row_end);
}

}  // namespace parley::vnni
