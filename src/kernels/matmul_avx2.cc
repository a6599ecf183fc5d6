// AVX2 MatMulRows: one token uses the fused DotRow per weight row; several tokens
// dequantize a tile of rows once into thread-local f32 scratch and run a register-blocked
// f32 kernel over it (4 rows x 3 tokens: 12 accumulators, 3 x vectors and a weight vector
// fill the 16 registers), so each weight byte is decoded once per call.
// Compiled with -mavx2 -mfma -mf16c; no standard-library templates (see
// avx2_decode_inl.h). Reentrant; scratch is per thread.
#include <immintrin.h>

#include <cstdint>

#include "kernels/avx2_decode_inl.h"
#include "kernels/quant.h"
#include "kernels/quant_internal.h"

namespace parley::avx2 {
namespace {

// Rows dequantized at a time: 16 rows of 2048 floats is 128 KiB, which stays in L2 while
// every token streams over it.
constexpr int kTileRows = 16;

using simd::HSum;

// out[t * out_stride + r] = dot(w + r * n, x + t * x_stride) for r < kRows, t < kTokens.
template <int kRows, int kTokens>
void DotTile(const float* w, const float* x, int64_t x_stride, int64_t n, float* out,
             int64_t out_stride) {
  __m256 acc[kTokens][kRows];
#pragma GCC unroll 8
  for (int t = 0; t < kTokens; ++t) {
#pragma GCC unroll 8
    for (int r = 0; r < kRows; ++r) acc[t][r] = _mm256_setzero_ps();
  }
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 xv[kTokens];
#pragma GCC unroll 8
    for (int t = 0; t < kTokens; ++t) xv[t] = _mm256_loadu_ps(x + t * x_stride + i);
#pragma GCC unroll 8
    for (int r = 0; r < kRows; ++r) {
      const __m256 wv = _mm256_loadu_ps(w + r * n + i);
#pragma GCC unroll 8
      for (int t = 0; t < kTokens; ++t) acc[t][r] = _mm256_fmadd_ps(wv, xv[t], acc[t][r]);
    }
  }
  for (int t = 0; t < kTokens; ++t) {
    for (int r = 0; r < kRows; ++r) {
      float sum = HSum(acc[t][r]);
      for (int64_t k = i; k < n; ++k) sum += w[r * n + k] * x[t * x_stride + k];
      out[t * out_stride + r] = sum;
    }
  }
}

template <int kRows>
void DotTileAllTokens(const float* w, const MatMulArgs& a, int64_t row) {
  int64_t t = 0;
  for (; t + 3 <= a.num_tokens; t += 3) {
    DotTile<kRows, 3>(w, a.x + t * a.x_stride, a.x_stride, a.n, a.y + t * a.y_stride + row,
                      a.y_stride);
  }
  const float* x = a.x + t * a.x_stride;
  float* y = a.y + t * a.y_stride + row;
  switch (a.num_tokens - t) {
    case 2: DotTile<kRows, 2>(w, x, a.x_stride, a.n, y, a.y_stride); break;
    case 1: DotTile<kRows, 1>(w, x, a.x_stride, a.n, y, a.y_stride); break;
    default: break;
  }
}

}  // namespace

void MatMulRows(const MatMulArgs& a, int64_t row_begin, int64_t row_end) {
  const char* w = static_cast<const char*>(a.w);
  if (a.num_tokens == 1) {
    for (int64_t r = row_begin; r < row_end; ++r) {
      a.y[r] = avx2::DotRow(a.type, w + r * a.w_row_bytes, a.x, a.n);
    }
    return;
  }
  const bool is_f32 = a.type == TensorType::kF32 && a.w_row_bytes == static_cast<size_t>(a.n) * 4;
  float* scratch =
      is_f32 ? nullptr : internal::ThreadScratch(internal::ScratchSlot::kTile, kTileRows * a.n);
  for (int64_t tile = row_begin; tile < row_end; tile += kTileRows) {
    const int64_t rows = row_end - tile < kTileRows ? row_end - tile : kTileRows;
    const float* tile_w;
    if (is_f32) {
      tile_w = reinterpret_cast<const float*>(w + tile * a.w_row_bytes);
    } else {
      for (int64_t r = 0; r < rows; ++r) {
        avx2::DequantizeRow(a.type, w + (tile + r) * a.w_row_bytes, scratch + r * a.n, a.n);
      }
      tile_w = scratch;
    }
    int64_t r = 0;
    for (; r + 4 <= rows; r += 4) DotTileAllTokens<4>(tile_w + r * a.n, a, tile + r);
    switch (rows - r) {
      case 3: DotTileAllTokens<3>(tile_w + r * a.n, a, tile + r); break;
      case 2: DotTileAllTokens<2>(tile_w + r * a.n, a, tile + r); break;
      case 1: DotTileAllTokens<1>(tile_w + r * a.n, a, tile + r); break;
      default: break;
    }
  }
}

}  // namespace parley::avx2
