// AVX-512 VNNI packed products (packed_matmul.h). A 64-byte line of codes is one vector of
// 16 row lanes; nibbles are masked out of each 16-bit half (bytes sign-extended from each
// 16-bit half) into int16 pairs, and vpdpwssd multiplies each pair by the token's matching
// activation pair, broadcast, adding both products to the row's int32 lane: exact block sums.
// Tiles of NP panels x NT tokens keep a panel group's codes in registers while the tokens
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

#include "kernels/packed_matmul_internal.h"
#include "kernels/prefetch.h"

namespace parley::vnni {
namespace {

// The 16 rows' scales (i < L::kSubs) or mins (i == L::kSubs) of a panel block.
template <class L>
__m512 Scales(const uint8_t* blk, int i) {
  const uint8_t* at = blk + L::kCodeBytes + i * kPackPanel * L::kScaleBytes;
  if constexpr (L::kF16) return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(at)));
  return _mm512_loadu_ps(at);
}

inline __m512i Pair(const int16_t* xq, int k) {
  int32_t v;
  std::memcpy(&v, xq + 2 * k, 4);
  return _mm512_set1_epi32(v);
}

template <class F, int NP, int NT>
void Tile(const PackedMatMulArgs& a, int64_t p0, int64_t t0, int64_t row_end) {
  const PackedMatrix& w = *a.w;
  const PackedActivations& x = *a.x;
  const int64_t blocks = w.blocks, cols = blocks * kPackBlock;
  __m512 acc[NT][NP];
  for (int t = 0; t < NT; ++t) {
    for (int p = 0; p < NP; ++p) acc[t][p] = _mm512_setzero_ps();
  }
  const __m512i nibble = _mm512_set1_epi16(0x000F);
  [[maybe_unused]] const __m512i bit4 = _mm512_set1_epi16(0x0010);
  for (int64_t b = 0; b < blocks; ++b) {
    const uint8_t* blk[NP];
    for (int p = 0; p < NP; ++p) blk[p] = w.data.data() + ((p0 + p) * blocks + b) * F::kBlockBytes;
    // The first token group brings a panel in; the later ones (a batch) find it in cache.
    if (t0 == 0) {
      for (int p = 0; p < NP; ++p) PrefetchAhead(blk[p], F::kBlockBytes);
    }
    const int16_t* xq[NT];
    for (int t = 0; t < NT; ++t) xq[t] = x.q.data() + (t0 + t) * cols + b * kPackBlock;
    __m512i s[F::kSubs][NT][NP];
    for (int i = 0; i < F::kSubs; ++i) {
      for (int t = 0; t < NT; ++t) {
        for (int p = 0; p < NP; ++p) s[i][t][p] = _mm512_setzero_si512();
      }
    }
    if constexpr (F::kBits <= 5) {  // nibbles: 4 lines of 8 columns (5 bits: then the high bits)
      __m512i high[NP];
      if constexpr (F::kBits == 5) {
        for (int p = 0; p < NP; ++p) high[p] = _mm512_loadu_si512(blk[p] + 256);
      }
      for (int l = 0; l < 4; ++l) {
        __m512i line[NP];
        for (int p = 0; p < NP; ++p) line[p] = _mm512_loadu_si512(blk[p] + 64 * l);
        for (int j = 0; j < 4; ++j) {
          __m512i c[NP];
          for (int p = 0; p < NP; ++p) {
            c[p] = _mm512_and_si512(_mm512_srli_epi16(line[p], 4 * j), nibble);
            if constexpr (F::kBits == 5) {  // bit 4l + j of each half to bit 4: c | (h & 0x10)
              const int k = 4 * l + j;
              const __m512i h = k >= 4 ? _mm512_srli_epi16(high[p], k - 4) : _mm512_slli_epi16(high[p], 4 - k);
              c[p] = _mm512_ternarylogic_epi32(c[p], h, bit4, 0xF8);
            }
          }
          for (int t = 0; t < NT; ++t) {
            const __m512i xv = Pair(xq[t], 4 * l + j);
            for (int p = 0; p < NP; ++p) s[0][t][p] = _mm512_dpwssd_epi32(s[0][t][p], c[p], xv);
          }
        }
      }
    } else {  // bytes: 8 lines of 4 columns; Q6_K's first 16 columns are lines 0-3
      for (int k = 0; k < 8; ++k) {
        const int i = F::kSubs == 2 ? k / 4 : 0;
        __m512i lo[NP], hi[NP];
        for (int p = 0; p < NP; ++p) {
          const __m512i line = _mm512_loadu_si512(blk[p] + 64 * k);
          lo[p] = _mm512_srai_epi16(_mm512_slli_epi16(line, 8), 8);
          hi[p] = _mm512_srai_epi16(line, 8);
        }
        for (int t = 0; t < NT; ++t) {
          const __m512i xa = Pair(xq[t], 2 * k), xb = Pair(xq[t], 2 * k + 1);
          for (int p = 0; p < NP; ++p) s[i][t][p] = _mm512_dpwssd_epi32(_mm512_dpwssd_epi32(s[i][t][p], lo[p], xa), hi[p], xb);
        }
      }
    }
    for (int p = 0; p < NP; ++p) {
      __m512 d[F::kSubs];
      for (int i = 0; i < F::kSubs; ++i) d[i] = Scales<F>(blk[p], i);
      for (int t = 0; t < NT; ++t) {
        const __m512 xs = _mm512_set1_ps(x.scale[(t0 + t) * blocks + b]);
        for (int i = 0; i < F::kSubs; ++i) {
          acc[t][p] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s[i][t][p]), _mm512_mul_ps(d[i], xs), acc[t][p]);
        }
      }
    }
    if constexpr (F::kHasMin) {
      for (int p = 0; p < NP; ++p) {
        const __m512 m = Scales<F>(blk[p], F::kSubs);
        for (int t = 0; t < NT; ++t) {
          acc[t][p] = _mm512_fmadd_ps(m, _mm512_set1_ps(x.sum[(t0 + t) * blocks + b]), acc[t][p]);
        }
      }
    }
  }
  for (int p = 0; p < NP; ++p) {
    const int64_t r = (p0 + p) * kPackPanel;
    if (r >= row_end) break;
    const __mmask16 keep = row_end - r >= 16 ? 0xffff : static_cast<__mmask16>((1u << (row_end - r)) - 1);
    for (int t = 0; t < NT; ++t) _mm512_mask_storeu_ps(a.y + (t0 + t) * a.y_stride + r, keep, acc[t][p]);
  }
}

template <class F>
void Rows(const PackedMatMulArgs& a, int64_t row_begin, int64_t row_end) {
  int64_t p = row_begin / kPackPanel;
  const int64_t p_end = (row_end + kPackPanel - 1) / kPackPanel;
  const int64_t n = a.x->num_tokens;
  if (n == 1) {  // a decode: four panels per pass
    for (; p + 4 <= p_end; p += 4) Tile<F, 4, 1>(a, p, 0, row_end);
    for (; p + 2 <= p_end; p += 2) Tile<F, 2, 1>(a, p, 0, row_end);
    if (p < p_end) Tile<F, 1, 1>(a, p, 0, row_end);
    return;
  }
  for (; p < p_end; p += 2) {
    const bool two = p + 2 <= p_end;
    int64_t t = 0;
    // Q6_K's two sub-block sums per block double the accumulators: two tokens per pass.
    constexpr int kNt = F::kSubs == 2 ? 2 : 3;
    for (; t + kNt <= n; t += kNt) two ? Tile<F, 2, kNt>(a, p, t, row_end) : Tile<F, 1, kNt>(a, p, t, row_end);
    for (; t < n; ++t) two ? Tile<F, 2, 1>(a, p, t, row_end) : Tile<F, 1, 1>(a, p, t, row_end);
  }
}

}  // namespace

void MatMulRowsPacked(const PackedMatMulArgs& a, int64_t row_begin, int64_t row_end) {
  internal::WithPackedLayout(a.w->format, [&](auto layout) { Rows<decltype(layout)>(a, row_begin, row_end); });
}

}  // namespace parley::vnni
