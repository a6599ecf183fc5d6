// AMX W8A8 product (int8_matmul.h) for groups of 16 tokens. Tiles of 16 rows x 64 bytes:
// A holds one block of 16 tokens' activations, B one packed panel tile (already the B
// layout: line g = bytes [4g, 4g + 4) of 16 rows), C their product. TDPBSSD gives exact
// int32 block sums; they are stored and each goes into its float accumulator with the
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

#include <algorithm>
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

// y[t + m][panel's rows] = acc[m] * the rows' scales for the 16 tokens; rows at or past
// row_end are not stored.
inline void StorePanel(const Int8Matrix& w, float* y, int64_t y_stride, int64_t panel, int64_t t, const __m512* acc,
                       int64_t row_end) {
  const int64_t r = panel * kI8Panel;
  const __mmask16 keep = row_end - r >= 16 ? 0xffff : static_cast<__mmask16>((1u << (row_end - r)) - 1);
  const __m512 scale = _mm512_loadu_ps(w.scale.data() + r);
#pragma GCC unroll 16
  for (int m = 0; m < 16; ++m) _mm512_mask_storeu_ps(y + (t + m) * y_stride + r, keep, _mm512_mul_ps(acc[m], scale));
}

// Panels in runs of about 256 KiB (they stay in L2 while every token group passes), and
// within a run, token groups outside: a group's activations (16 x stride bytes) stay in L1
// while the run's panels stream past. tile(panel, first token) for each pair.
template <typename F>
void ForEachTile(const Int8Matrix& w, int64_t num_tokens, int64_t row_begin, int64_t row_end, F tile) {
  const int64_t p_end = (row_end + kI8Panel - 1) / kI8Panel;
  const int64_t run = std::max<int64_t>(1, (int64_t{256} << 10) / (w.blocks() * kI8TileBytes));
  for (int64_t p0 = row_begin / kI8Panel; p0 < p_end; p0 += run) {
    const int64_t p1 = std::min(p_end, p0 + run);
    for (int64_t t = 0; t < num_tokens; t += 16) {
      for (int64_t p = p0; p < p1; ++p) tile(p, t);
    }
  }
}

// One panel x 16 tokens [t, t + 16). TDPBSSD gives the exact int32 block sums; the 16 float
// accumulators (one per token, 16 row lanes each) stay in registers. Blocks go in pairs on
// alternating tiles (A 4/5, B 6/7, C 0/1), so one block's products can run while the
// other's sums are scaled.
template <bool kPair>
inline void Products(const int8_t* x, int64_t x_stride, const int8_t* b0, const int8_t* b1, int32_t* c) {
  _tile_zero(0);
  _tile_loadd(4, x, x_stride);
  _tile_loadd(6, b0, 64);
  if constexpr (kPair) {
    _tile_zero(1);
    _tile_loadd(5, x + kI8Block, x_stride);
    _tile_loadd(7, b1, 64);
  }
  _tile_dpbssd(0, 4, 6);
  if constexpr (kPair) _tile_dpbssd(1, 5, 7);
  _tile_stored(0, c, 64);
  if constexpr (kPair) _tile_stored(1, c + 256, 64);
}

void Tile(const I8MatMulArgs& a, int64_t p, int64_t t, int64_t row_end) {
  const Int8Matrix& w = *a.w;
  const int64_t blocks = w.blocks();
  const int64_t xs_stride = a.x_stride / kI8Block;
  alignas(64) int32_t c[2 * 256];
  __m512 acc[16];
#pragma GCC unroll 16
  for (int m = 0; m < 16; ++m) acc[m] = _mm512_setzero_ps();
  const int8_t* xt = a.x + t * a.x_stride;
  const float* xs = a.x_scale + t * xs_stride;
  auto scale_in = [&](const int32_t* cb, int64_t b) {
#pragma GCC unroll 16
    for (int m = 0; m < 16; ++m) {
      acc[m] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_load_si512(cb + 16 * m)),
                               _mm512_set1_ps(xs[m * xs_stride + b]), acc[m]);
    }
  };
  int64_t b = 0;
  for (; b + 2 <= blocks; b += 2) {
    Products<true>(xt + b * kI8Block, a.x_stride, w.tile(p, b), w.tile(p, b + 1), c);
    scale_in(c, b);
    scale_in(c + 256, b + 1);
  }
  if (b < blocks) {
    Products<false>(xt + b * kI8Block, a.x_stride, w.tile(p, b), nullptr, c);
    scale_in(c, b);
  }
  StorePanel(w, a.y, a.y_stride, p, t, acc, row_end);
}

// The head (MatMulRowsI8I16 for 16-token groups): int16 activations split into a signed
// high byte and an unsigned low byte (x = 256 hi + lo), so two int8 products give the exact
// int32 block sums of the VNNI kernel: S = 256 (hi . w) + (lo . w). Blocks of 32 columns
// (the head's weight-scale blocks): A tiles of 16 tokens x 32 bytes, a B tile of 8 lines
// (half a packed tile), C tiles of 16 x 16 int32 (tiles 0, 1: hi, lo; 4, 5: A hi, lo; 6: B).
void LoadHeadConfig() {
  alignas(64) uint8_t cfg[64];
  std::memset(cfg, 0, 64);
  cfg[0] = 1;
  auto set = [&](int tile, int rows, int bytes) {
    cfg[16 + 2 * tile] = static_cast<uint8_t>(bytes);
    cfg[48 + tile] = static_cast<uint8_t>(rows);
  };
  set(0, 16, 64);
  set(1, 16, 64);
  set(4, 16, 32);
  set(5, 16, 32);
  set(6, 8, 64);
  Barrier(cfg);
  _tile_loadconfig(cfg);
}

void HeadTile(const I8F32MatMulArgs& a, int64_t p, int64_t t, int64_t row_end) {
  const Int8Matrix& w = *a.w;
  const I16Activations& x = *a.x;
  const int64_t blocks = w.head_blocks();
  alignas(64) int32_t c[2 * 256];
  __m512 acc[16];
#pragma GCC unroll 16
  for (int m = 0; m < 16; ++m) acc[m] = _mm512_setzero_ps();
  const int8_t* ht = x.hi.data() + t * w.stride;
  const uint8_t* lt = x.lo.data() + t * w.stride;
  for (int64_t b = 0; b < blocks; ++b) {
    _tile_zero(0);
    _tile_zero(1);
    _tile_loadd(4, ht + b * kI8HeadBlock, w.stride);
    _tile_loadd(5, lt + b * kI8HeadBlock, w.stride);
    _tile_loadd(6, w.tile(p, b / 2) + (b % 2) * (kI8TileBytes / 2), 64);
    _tile_dpbssd(0, 4, 6);
    _tile_dpbusd(1, 5, 6);
    _tile_stored(0, c, 64);
    _tile_stored(1, c + 256, 64);
    const __m512 ws = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(w.head_block_scales(p, b))));
#pragma GCC unroll 16
    for (int m = 0; m < 16; ++m) {
      const __m512i s = _mm512_add_epi32(_mm512_slli_epi32(_mm512_load_si512(c + 16 * m), 8),
                                         _mm512_load_si512(c + 256 + 16 * m));
      const __m512 scale = _mm512_mul_ps(ws, _mm512_set1_ps(x.scales[(t + m) * blocks + b]));
      acc[m] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), scale, acc[m]);
    }
  }
  StorePanel(w, a.y, a.y_stride, p, t, acc, row_end);
}

}  // namespace

void MatMulRowsI8I16(const I8F32MatMulArgs& a, int64_t row_begin, int64_t row_end) {
  LoadHeadConfig();
  ForEachTile(*a.w, a.x->tiled, row_begin, row_end, [&](int64_t p, int64_t t) { HeadTile(a, p, t, row_end); });
  _tile_release();
}

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
  ForEachTile(*a.w, a.num_tokens, row_begin, row_end, [&](int64_t p, int64_t t) { Tile(a, p, t, row_end); });
  _tile_release();
}

}  // namespace parley::amx
