// AMX W8A8 product (int8_matmul.h) for groups of 16 tokens. Eight tiles of 16 rows x 64
// bytes: A0/A1 hold one block of 16 tokens' biased activations each, B0/B1 one packed
// panel tile each (already the B layout: line g = bytes [4g, 4g + 4) of 16 rows), and
// C0-C3 their four products. TDPBUSD gives exact int32 block sums (plus the bias); they
// are stored, the bias subtracted, and each goes into its float accumulator with the
// block's FMA, in block order, as every other level does.
//
// The tile configuration is a plain 64-byte array written field by field, fenced from the
// optimizer (see Barrier) and checked once by reading it back (TileConfigRoundTrips).
// Compiled only with the AMX flags; templates in an anonymous namespace (no weak symbols,
// see avx2_decode_inl.h). Reentrant: the tile state is per thread.

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

namespace parley::amx {
namespace {

constexpr int kTiles = 8;

// Palette 1, every tile 16 rows x 64 bytes.
void WriteConfig(uint8_t* cfg) {
  std::memset(cfg, 0, 64);
  cfg[0] = 1;  // palette
  for (int t = 0; t < kTiles; ++t) {
    cfg[16 + 2 * t] = 64;  // bytes per row, little endian uint16
    cfg[16 + 2 * t + 1] = 0;
    cfg[48 + t] = 16;  // rows
  }
}

// GCC 12.2 models LDTILECFG and STTILECFG as touching only the first bytes of their
// 64-byte operand: it dropped the stores of the row counts as dead (the first tile load
// then faults) and read a stale copy after STTILECFG. A compiler barrier on the buffer
// makes every byte real on both sides.
inline void Barrier(const void* p) { asm volatile("" : : "r"(p) : "memory"); }

void LoadConfig() {
  alignas(64) uint8_t cfg[64];
  WriteConfig(cfg);
  Barrier(cfg);
  _tile_loadconfig(cfg);
}

// One block of NT x 16 tokens against NP panels: C[j * NP + i] = A[j] . B[i], stored to c.
template <int NP, int NT>
inline void BlockProducts(const uint8_t* x, int64_t x_stride, const int8_t* const* b_tiles, int32_t* c) {
  _tile_zero(0);
  if constexpr (NP * NT > 1) _tile_zero(1);
  if constexpr (NP * NT > 2) _tile_zero(2);
  if constexpr (NP * NT > 3) _tile_zero(3);
  _tile_loadd(4, x, x_stride);
  if constexpr (NT > 1) _tile_loadd(5, x + 16 * x_stride, x_stride);
  _tile_loadd(6, b_tiles[0], 64);
  if constexpr (NP > 1) _tile_loadd(7, b_tiles[1], 64);
  _tile_dpbusd(0, 4, 6);
  if constexpr (NP > 1) _tile_dpbusd(1, 4, 7);
  if constexpr (NT > 1 && NP == 1) _tile_dpbusd(1, 5, 6);
  if constexpr (NT > 1 && NP > 1) _tile_dpbusd(2, 5, 6);
  if constexpr (NT > 1 && NP > 1) _tile_dpbusd(3, 5, 7);
  _tile_stored(0, c, 64);
  if constexpr (NP * NT > 1) _tile_stored(1, c + 256, 64);
  if constexpr (NP * NT > 2) _tile_stored(2, c + 512, 64);
  if constexpr (NP * NT > 3) _tile_stored(3, c + 768, 64);
}

// Panels [p, p + NP) x tokens [t, t + 16 NT).
template <int NP, int NT>
void Tile(const I8MatMulArgs& a, int64_t p, int64_t t, int64_t row_end) {
  const Int8Matrix& w = *a.w;
  const int64_t blocks = w.blocks();
  const int64_t xs_stride = a.x_stride / kI8Block;
  alignas(64) int32_t c[4 * 256];
  alignas(64) float acc[32][32];  // [token][row in the panel group]
  for (int m = 0; m < 16 * NT; ++m) {
    for (int i = 0; i < NP; ++i) _mm512_store_ps(&acc[m][16 * i], _mm512_setzero_ps());
  }
  const uint8_t* xt = a.x + t * a.x_stride;
  const float* xs = a.x_scale + t * xs_stride;
  for (int64_t b = 0; b < blocks; ++b) {
    const int8_t* b_tiles[2] = {w.tile(p, b), NP > 1 ? w.tile(p + 1, b) : nullptr};
    BlockProducts<NP, NT>(xt + b * kI8Block, a.x_stride, b_tiles, c);
    for (int i = 0; i < NP; ++i) {
      const __m512i bias = _mm512_loadu_si512(w.tile_bias(p + i, b));
      for (int j = 0; j < NT; ++j) {
        const int32_t* cj = c + (j * NP + i) * 256;
        for (int m = 0; m < 16; ++m) {
          const int tok = 16 * j + m;
          const __m512 s = _mm512_cvtepi32_ps(_mm512_sub_epi32(_mm512_load_si512(cj + 16 * m), bias));
          float* out = &acc[tok][16 * i];
          _mm512_store_ps(out, _mm512_fmadd_ps(s, _mm512_set1_ps(xs[tok * xs_stride + b]), _mm512_load_ps(out)));
        }
      }
    }
  }
  for (int i = 0; i < NP; ++i) {
    const int64_t r = (p + i) * kI8Panel;
    if (r >= row_end) break;
    const __mmask16 keep = row_end - r >= 16 ? 0xffff : static_cast<__mmask16>((1u << (row_end - r)) - 1);
    const __m512 scale = _mm512_loadu_ps(w.scale.data() + r);
    for (int m = 0; m < 16 * NT; ++m) {
      _mm512_mask_storeu_ps(a.y + (t + m) * a.y_stride + r, keep, _mm512_mul_ps(_mm512_load_ps(&acc[m][16 * i]), scale));
    }
  }
}

template <int NP>
void PanelGroup(const I8MatMulArgs& a, int64_t p, int64_t row_end) {
  int64_t t = 0;
  for (; t + 32 <= a.num_tokens; t += 32) Tile<NP, 2>(a, p, t, row_end);
  if (t < a.num_tokens) Tile<NP, 1>(a, p, t, row_end);
}

}  // namespace

bool TileConfigRoundTrips() {
  alignas(64) uint8_t want[64], got[64];
  WriteConfig(want);
  Barrier(want);
  _tile_loadconfig(want);
  std::memset(got, 0xff, sizeof(got));
  Barrier(got);
  _tile_storeconfig(got);
  Barrier(got);
  _tile_release();
  return std::memcmp(want, got, sizeof(want)) == 0;
}

void MatMulRowsI8(const I8MatMulArgs& a, int64_t row_begin, int64_t row_end) {
  LoadConfig();
  int64_t p = row_begin / kI8Panel;
  const int64_t p_end = (row_end + kI8Panel - 1) / kI8Panel;
  for (; p + 2 <= p_end; p += 2) PanelGroup<2>(a, p, row_end);
  if (p < p_end) PanelGroup<1>(a, p, row_end);
  _tile_release();
}

}  // namespace parley::amx
