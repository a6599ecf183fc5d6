// Internal to the SIMD-flagged matmul files (matmul_avx2.cc, matmul_avx512.cc): MatMulRows
// written once over a vector-traits type V (simd/vec_avx2_inl.h, simd/vec_avx512_inl.h).
// One token uses the fused V::DotRow per weight row; several tokens dequantize a tile of
// rows once into thread-local f32 scratch and run a register-blocked f32 kernel over it
// (4 rows x V::kTokenTile tokens), so each weight byte is decoded once per call.
// The per-lane operation order and the reduction are V's, so each ISA's results are exactly
// those of its former hand-written copy. Anonymous namespace: see avx2_decode_inl.h.
#pragma once

#include <cstdint>

#include "kernels/quant.h"
#include "kernels/quant_internal.h"

namespace parley::simd {
namespace {

// Rows dequantized at a time: 16 rows of 2048 floats is 128 KiB, which stays in L2 while
// every token streams over it.
constexpr int kMatMulTileRows = 16;

// out[t * out_stride + r] = dot(w + r * n, x + t * x_stride) for r < kRows, t < kTokens.
template <class V, int kRows, int kTokens>
void DotTile(const float* w, const float* x, int64_t x_stride, int64_t n, float* out,
             int64_t out_stride) {
  using F = typename V::F;
  F acc[kTokens][kRows];
#pragma GCC unroll 8
  for (int t = 0; t < kTokens; ++t) {
#pragma GCC unroll 8
    for (int r = 0; r < kRows; ++r) acc[t][r] = V::Zero();
  }
  int64_t i = 0;
  for (; i + V::kLanes <= n; i += V::kLanes) {
    F xv[kTokens];
#pragma GCC unroll 8
    for (int t = 0; t < kTokens; ++t) xv[t] = V::Load(x + t * x_stride + i);
#pragma GCC unroll 8
    for (int r = 0; r < kRows; ++r) {
      const F wv = V::Load(w + r * n + i);
#pragma GCC unroll 8
      for (int t = 0; t < kTokens; ++t) acc[t][r] = V::MulAdd(wv, xv[t], acc[t][r]);
    }
  }
  if constexpr (V::kMaskedTail) {
    if (i < n) {
      F xv[kTokens];
#pragma GCC unroll 8
      for (int t = 0; t < kTokens; ++t) xv[t] = V::LoadFirst(x + t * x_stride + i, n - i);
#pragma GCC unroll 8
      for (int r = 0; r < kRows; ++r) {
        const F wv = V::LoadFirst(w + r * n + i, n - i);
#pragma GCC unroll 8
        for (int t = 0; t < kTokens; ++t) acc[t][r] = V::MulAdd(wv, xv[t], acc[t][r]);
      }
    }
    for (int t = 0; t < kTokens; ++t) {
      for (int r = 0; r < kRows; ++r) out[t * out_stride + r] = V::ReduceAdd(acc[t][r]);
    }
  } else {
    for (int t = 0; t < kTokens; ++t) {
      for (int r = 0; r < kRows; ++r) {
        float sum = V::ReduceAdd(acc[t][r]);
        for (int64_t k = i; k < n; ++k) sum += w[r * n + k] * x[t * x_stride + k];
        out[t * out_stride + r] = sum;
      }
    }
  }
}

template <class V, int kRows>
void DotTileAllTokens(const float* w, const MatMulArgs& a, int64_t row) {
  constexpr int kT = V::kTokenTile;
  static_assert(kT == 3 || kT == 4, "token tile remainders below cover 1..3");
  int64_t t = 0;
  for (; t + kT <= a.num_tokens; t += kT) {
    DotTile<V, kRows, kT>(w, a.x + t * a.x_stride, a.x_stride, a.n, a.y + t * a.y_stride + row,
                          a.y_stride);
  }
  const float* x = a.x + t * a.x_stride;
  float* y = a.y + t * a.y_stride + row;
  switch (a.num_tokens - t) {
    case 3: DotTile<V, kRows, 3>(w, x, a.x_stride, a.n, y, a.y_stride); break;
    case 2: DotTile<V, kRows, 2>(w, x, a.x_stride, a.n, y, a.y_stride); break;
    case 1: DotTile<V, kRows, 1>(w, x, a.x_stride, a.n, y, a.y_stride); break;
    default: break;
  }
}

template <class V>
void MatMulRowsT(const MatMulArgs& a, int64_t row_begin, int64_t row_end) {
  const char* w = static_cast<const char*>(a.w);
  if (a.num_tokens == 1) {
    for (int64_t r = row_begin; r < row_end; ++r) {
      a.y[r] = V::DotRow(a.type, w + r * a.w_row_bytes, a.x, a.n);
    }
    return;
  }
  const bool is_f32 = a.type == TensorType::kF32 && a.w_row_bytes == static_cast<size_t>(a.n) * 4;
  float* scratch = is_f32 ? nullptr
                          : internal::ThreadScratch(internal::ScratchSlot::kTile,
                                                    kMatMulTileRows * a.n);
  for (int64_t tile = row_begin; tile < row_end; tile += kMatMulTileRows) {
    const int64_t rows = row_end - tile < kMatMulTileRows ? row_end - tile : kMatMulTileRows;
    const float* tile_w;
    if (is_f32) {
      tile_w = reinterpret_cast<const float*>(w + tile * a.w_row_bytes);
    } else {
      for (int64_t r = 0; r < rows; ++r) {
        V::DequantizeRow(a.type, w + (tile + r) * a.w_row_bytes, scratch + r * a.n, a.n);
      }
      tile_w = scratch;
    }
    int64_t r = 0;
    for (; r + 4 <= rows; r += 4) DotTileAllTokens<V, 4>(tile_w + r * a.n, a, tile + r);
    switch (rows - r) {
      case 3: DotTileAllTokens<V, 3>(tile_w + r * a.n, a, tile + r); break;
      case 2: DotTileAllTokens<V, 2>(tile_w + r * a.n, a, tile + r); break;
      case 1: DotTileAllTokens<V, 1>(tile_w + r * a.n, a, tile + r); break;
      default: break;
    }
  }
}

}  // namespace
}  // namespace parley::simd
