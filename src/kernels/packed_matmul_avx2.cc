// AVX2 packed products (packed_matmul.h): the VNNI kernel's operations on 256-bit vectors.
// A 64-byte line of codes is two vectors (rows 0-7, rows 8-15); vpmaddwd multiplies each
// int16 code pair by the token's activation pair and sums the two products, which vpaddd
// adds to the row's int32 lane: the same exact block sums, then the same f32 epilogue in
// the same order, so results are bit-identical to the other levels. Compiled only with
// the AVX2 flags; templates in an anonymous namespace (no weak symbols, see
// avx2_decode_inl.h). Reentrant.
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "kernels/packed_matmul_internal.h"
#include "kernels/prefetch.h"

namespace parley::avx2 {
namespace {

// Rows [8h, 8h + 8)'s scales (i < L::kSubs) or mins (i == L::kSubs) of a panel block.
template <class L>
__m256 Scales(const uint8_t* blk, int i, int h) {
  const uint8_t* at = blk + L::kCodeBytes + (i * kPackPanel + 8 * h) * L::kScaleBytes;
  if constexpr (L::kF16) return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(at)));
  return _mm256_loadu_ps(reinterpret_cast<const float*>(at));
}

inline __m256i Pair(const int16_t* xq, int k) {
  int32_t v;
  std::memcpy(&v, xq + 2 * k, 4);
  return _mm256_set1_epi32(v);
}

inline __m256i Load(const uint8_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }

// NH half panels (8 rows each, starting at half panel h0) x NT tokens.
template <class F, int NH, int NT>
void Tile(const PackedMatMulArgs& a, int64_t h0, int64_t t0, int64_t row_end) {
  const PackedMatrix& w = *a.w;
  const PackedActivations& x = *a.x;
  const int64_t blocks = w.blocks, cols = blocks * kPackBlock;
  __m256 acc[NT][NH];
  for (int t = 0; t < NT; ++t) {
    for (int h = 0; h < NH; ++h) acc[t][h] = _mm256_setzero_ps();
  }
  const __m256i nibble = _mm256_set1_epi16(0x000F);
  [[maybe_unused]] const __m256i bit4 = _mm256_set1_epi16(0x0010);
  for (int64_t b = 0; b < blocks; ++b) {
    const uint8_t* blk[NH];  // the half panel's panel block; its half is (h0 + h) % 2
    for (int h = 0; h < NH; ++h) blk[h] = w.data.data() + ((h0 + h) / 2 * blocks + b) * F::kBlockBytes;
    // The first token group brings a panel in; the later ones (a batch) find it in cache.
    if (t0 == 0) {
      for (int h = 0; h < NH; ++h) {
        if (h == 0 || blk[h] != blk[h - 1]) PrefetchAhead(blk[h], F::kBlockBytes);  // a panel's halves share a block
      }
    }
    const int16_t* xq[NT];
    for (int t = 0; t < NT; ++t) xq[t] = x.q.data() + (t0 + t) * cols + b * kPackBlock;
    __m256i s[F::kSubs][NT][NH];
    for (int i = 0; i < F::kSubs; ++i) {
      for (int t = 0; t < NT; ++t) {
        for (int h = 0; h < NH; ++h) s[i][t][h] = _mm256_setzero_si256();
      }
    }
    if constexpr (F::kBits <= 5) {  // nibbles (5 bits: then the high bits)
      __m256i high[NH];
      if constexpr (F::kBits == 5) {
        for (int h = 0; h < NH; ++h) high[h] = Load(blk[h] + 256 + 32 * ((h0 + h) % 2));
      }
      for (int l = 0; l < 4; ++l) {
        __m256i line[NH];
        for (int h = 0; h < NH; ++h) line[h] = Load(blk[h] + 64 * l + 32 * ((h0 + h) % 2));
        for (int j = 0; j < 4; ++j) {
          __m256i c[NH];
          for (int h = 0; h < NH; ++h) {
            c[h] = _mm256_and_si256(_mm256_srli_epi16(line[h], 4 * j), nibble);
            if constexpr (F::kBits == 5) {  // bit 4l + j of each 16-bit half to bit 4
              const int k = 4 * l + j;
              const __m256i hb = k >= 4 ? _mm256_srli_epi16(high[h], k - 4) : _mm256_slli_epi16(high[h], 4 - k);
              c[h] = _mm256_or_si256(c[h], _mm256_and_si256(hb, bit4));
            }
          }
          for (int t = 0; t < NT; ++t) {
            const __m256i xv = Pair(xq[t], 4 * l + j);
            for (int h = 0; h < NH; ++h) s[0][t][h] = _mm256_add_epi32(s[0][t][h], _mm256_madd_epi16(c[h], xv));
          }
        }
      }
    } else {  // bytes
      for (int k = 0; k < 8; ++k) {
        const int i = F::kSubs == 2 ? k / 4 : 0;
        __m256i lo[NH], hi[NH];
        for (int h = 0; h < NH; ++h) {
          const __m256i line = Load(blk[h] + 64 * k + 32 * ((h0 + h) % 2));
          lo[h] = _mm256_srai_epi16(_mm256_slli_epi16(line, 8), 8);
          hi[h] = _mm256_srai_epi16(line, 8);
        }
        for (int t = 0; t < NT; ++t) {
          const __m256i xa = Pair(xq[t], 2 * k), xb = Pair(xq[t], 2 * k + 1);
          for (int h = 0; h < NH; ++h) {
            s[i][t][h] = _mm256_add_epi32(_mm256_add_epi32(s[i][t][h], _mm256_madd_epi16(lo[h], xa)),
                                          _mm256_madd_epi16(hi[h], xb));
          }
        }
      }
    }
    for (int h = 0; h < NH; ++h) {
      __m256 d[F::kSubs];
      for (int i = 0; i < F::kSubs; ++i) d[i] = Scales<F>(blk[h], i, (h0 + h) % 2);
      for (int t = 0; t < NT; ++t) {
        const __m256 xs = _mm256_set1_ps(x.scale[(t0 + t) * blocks + b]);
        for (int i = 0; i < F::kSubs; ++i) {
          acc[t][h] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s[i][t][h]), _mm256_mul_ps(d[i], xs), acc[t][h]);
        }
      }
    }
    if constexpr (F::kHasMin) {
      for (int h = 0; h < NH; ++h) {
        const __m256 m = Scales<F>(blk[h], F::kSubs, (h0 + h) % 2);
        for (int t = 0; t < NT; ++t) {
          acc[t][h] = _mm256_fmadd_ps(m, _mm256_set1_ps(x.sum[(t0 + t) * blocks + b]), acc[t][h]);
        }
      }
    }
  }
  for (int h = 0; h < NH; ++h) {
    const int64_t r = (h0 + h) * 8;
    if (r >= row_end) break;
    for (int t = 0; t < NT; ++t) {
      float* y = a.y + (t0 + t) * a.y_stride + r;
      if (row_end - r >= 8) {
        _mm256_storeu_ps(y, acc[t][h]);
      } else {
        float tmp[8];
        _mm256_storeu_ps(tmp, acc[t][h]);
        std::memcpy(y, tmp, static_cast<size_t>(row_end - r) * sizeof(float));
      }
    }
  }
}

template <class F>
void Rows(const PackedMatMulArgs& a, int64_t row_begin, int64_t row_end) {
  int64_t h = row_begin / 8;
  const int64_t h_end = (row_end + kPackPanel - 1) / kPackPanel * 2;  // whole panels: padding rows are zero
  const int64_t n = a.x->num_tokens;
  if (n == 1) {  // a decode: four half panels per pass
    for (; h + 4 <= h_end; h += 4) Tile<F, 4, 1>(a, h, 0, row_end);
    for (; h < h_end; h += 2) Tile<F, 2, 1>(a, h, 0, row_end);
    return;
  }
  for (; h < h_end; h += 2) {
    int64_t t = 0;
    for (; t + 3 <= n; t += 3) Tile<F, 2, 3>(a, h, t, row_end);
    for (; t < n; ++t) Tile<F, 2, 1>(a, h, t, row_end);
  }
}

}  // namespace

void MatMulRowsPacked(const PackedMatMulArgs& a, int64_t row_begin, int64_t row_end) {
  internal::WithPackedLayout(a.w->format, [&](auto layout) { Rows<decltype(layout)>(a, row_begin, row_end); });
}

}  // namespace parley::avx2
