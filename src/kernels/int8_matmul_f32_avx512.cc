// AVX-512 int8-weight x f32-activation product (MatMulRowsI8F32, int8_matmul.h): a packed
// tile line holds 4 consecutive weights of 16 rows; each of the 4 is shifted out of its
// byte, converted, and multiplied into the rows' 16 float lanes with one FMA, in column
// order, and each block's sums are scaled in with one more, as the scalar reference does. NP panels x NT tokens per pass (independent FMA
// chains; a decode takes 4 panels). Compiled only with the AVX-512 flags; templates in an
// anonymous namespace (no weak symbols, see avx2_decode_inl.h). Reentrant.

// GCC 12's AVX-512 headers trip -Wmaybe-uninitialized on their own placeholders (GCC bug
// 105593); silence it for the header only.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop

#include <algorithm>
#include <cstdint>

#include "kernels/int8_matmul_internal.h"

namespace parley::avx512 {
namespace {

// Weight k (0..3) of each row's 4-byte group in a line, as floats.
template <int K>
inline __m512 Column(__m512i line) {
  return _mm512_cvtepi32_ps(_mm512_srai_epi32(_mm512_slli_epi32(line, 24 - 8 * K), 24));
}

template <int K, int NP, int NT>
inline void Step(const __m512i* line, const float* x, int64_t x_stride, int64_t i, __m512 (*acc)[NP]) {
  __m512 wv[NP];
  for (int p = 0; p < NP; ++p) wv[p] = Column<K>(line[p]);
  for (int t = 0; t < NT; ++t) {
    const __m512 xv = _mm512_set1_ps(x[t * x_stride + i]);
    for (int p = 0; p < NP; ++p) acc[t][p] = _mm512_fmadd_ps(wv[p], xv, acc[t][p]);
  }
}

template <int NP, int NT>
void Tile(const I8F32MatMulArgs& a, int64_t p0, int64_t t0, int64_t row_end) {
  const Int8Matrix& w = *a.w;
  const float* x = a.x + t0 * a.x_stride;
  __m512 acc[NT][NP], part[NT][NP];
  for (int t = 0; t < NT; ++t) {
    for (int p = 0; p < NP; ++p) acc[t][p] = _mm512_setzero_ps();
  }
  constexpr int64_t kGroups = kI8HeadBlock / 4;
  for (int64_t b = 0; b < w.head_blocks(); ++b) {
    for (int t = 0; t < NT; ++t) {
      for (int p = 0; p < NP; ++p) part[t][p] = _mm512_setzero_ps();
    }
    const int64_t g_end = (std::min(w.cols, (b + 1) * kI8HeadBlock) + 3) / 4;
    for (int64_t g = b * kGroups; g < g_end; ++g) {
      __m512i line[NP];
      for (int p = 0; p < NP; ++p) line[p] = _mm512_loadu_si512(w.tile(p0 + p, g / 16) + (g % 16) * 64);
      const int64_t i = 4 * g;
      if (i + 4 <= w.cols) {
        Step<0, NP, NT>(line, x, a.x_stride, i, part);
        Step<1, NP, NT>(line, x, a.x_stride, i + 1, part);
        Step<2, NP, NT>(line, x, a.x_stride, i + 2, part);
        Step<3, NP, NT>(line, x, a.x_stride, i + 3, part);
      } else {  // the last columns: only those below cols
        Step<0, NP, NT>(line, x, a.x_stride, i, part);
        if (i + 1 < w.cols) Step<1, NP, NT>(line, x, a.x_stride, i + 1, part);
        if (i + 2 < w.cols) Step<2, NP, NT>(line, x, a.x_stride, i + 2, part);
      }
    }
    for (int p = 0; p < NP; ++p) {
      const __m512 bs = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(w.head_block_scales(p0 + p, b))));
      for (int t = 0; t < NT; ++t) acc[t][p] = _mm512_fmadd_ps(part[t][p], bs, acc[t][p]);
    }
  }
  for (int p = 0; p < NP; ++p) {
    const int64_t r = (p0 + p) * kI8Panel;
    if (r >= row_end) break;
    const __mmask16 keep = row_end - r >= 16 ? 0xffff : static_cast<__mmask16>((1u << (row_end - r)) - 1);
    const __m512 scale = _mm512_loadu_ps(w.scale.data() + r);
    for (int t = 0; t < NT; ++t) {
      _mm512_mask_storeu_ps(a.y + (t0 + t) * a.y_stride + r, keep, _mm512_mul_ps(acc[t][p], scale));
    }
  }
}

template <int NP>
void PanelGroup(const I8F32MatMulArgs& a, int64_t p, int64_t row_end) {
  int64_t t = 0;
  for (; t + 3 <= a.num_tokens; t += 3) Tile<NP, 3>(a, p, t, row_end);
  switch (a.num_tokens - t) {
    case 2: Tile<NP, 2>(a, p, t, row_end); break;
    case 1: Tile<NP, 1>(a, p, t, row_end); break;
    default: break;
  }
}

}  // namespace

void MatMulRowsI8F32(const I8F32MatMulArgs& a, int64_t row_begin, int64_t row_end) {
  int64_t p = row_begin / kI8Panel;
  const int64_t p_end = (row_end + kI8Panel - 1) / kI8Panel;
  if (a.num_tokens == 1) {
    for (; p + 4 <= p_end; p += 4) Tile<4, 1>(a, p, 0, row_end);
  }
  for (; p + 2 <= p_end; p += 2) PanelGroup<2>(a, p, row_end);
  if (p < p_end) PanelGroup<1>(a, p, row_end);
}

}  // namespace parley::avx512
