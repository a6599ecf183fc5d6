// Internal to the SIMD-flagged files of kernels/: the weight-row dot and dequantize loops of
// the block-quantized types, written once over a vector-traits type V (VecAvx2, VecAvx512)
// and instantiated in quant_avx2.cc / quant_avx512.cc with their own flags. A block's 32
// quants are decoded into Quants32<V> (32 / V::kLanes float vectors) by a per-ISA decoder;
// the loops here only scale, offset and accumulate them.
//
// Every Dot* kernel computes what the tiled matrix product (simd/matmul_inl.h) computes from
// DequantizeRow's values: w is formed exactly as the Dequant* twin forms it (multiply, then
// add or subtract; no fused forms), and the V::kLanes-wide chunks of the row are accumulated
// in order into one accumulator, reduced by V::ReduceAdd at the end. So a weight row gives
// the same bits alone (matrix-vector) or in a batch (matrix-matrix): batch invariance.
//
// Anonymous namespace on purpose (see avx2_decode_inl.h): each SIMD file gets its own copy.
#pragma once

#include <cstdint>
#include <cstring>

#include "kernels/avx2_decode_inl.h"
#include "kernels/quant.h"
#include "kernels/quant_internal.h"
#include "kernels/tensor_type.h"

namespace parley::simd {
namespace {

// 32 quants as 32 / V::kLanes vectors of floats, element order.
template <class V>
struct Quants32 {
  static constexpr int kParts = 32 / V::kLanes;
  typename V::F f[kParts];
};

// 32 signed bytes at p, as floats (memory-form widening, V::kLanes bytes per vector).
template <class V>
inline Quants32<V> ToFloats(const int8_t* p) {
  Quants32<V> q;
#pragma GCC unroll 8
  for (int k = 0; k < Quants32<V>::kParts; ++k) q.f[k] = V::I8ToF32(p + V::kLanes * k);
  return q;
}
// 32 decoded bytes in a register, spilled so the widening can read memory.
template <class V>
inline Quants32<V> ToFloats(__m256i q) {
  alignas(32) int8_t buf[32];
  return ToFloats<V>(Spill(q, buf));
}

template <class V>
inline Quants32<V> FloatsQ8_0(const uint8_t* b) {
  return ToFloats<V>(reinterpret_cast<const int8_t*>(b + 2));
}

// ---- Legacy 32-element types -------------------------------------------------------------

// y = d * q: Q4_0, Q5_0, Q8_0.
template <class V, Quants32<V> (*kDecode)(const uint8_t*), int kBytes>
float DotScaled(const float* lut, const uint8_t* p, const float* x, int64_t num_blocks) {
  typename V::F acc = V::Zero();
  for (int64_t i = 0; i < num_blocks; ++i, x += 32) {
    const uint8_t* b = p + i * kBytes;
    PrefetchAhead(b);
    const Quants32<V> q = kDecode(b);
    const typename V::F d = V::Set1(Half(lut, b));
#pragma GCC unroll 8
    for (int k = 0; k < Quants32<V>::kParts; ++k) {
      acc = V::MulAdd(V::Mul(q.f[k], d), V::Load(x + V::kLanes * k), acc);
    }
  }
  return V::ReduceAdd(acc);
}

// y = d * q + m: Q4_1, Q5_1 (multiply, then add: as DequantAffine rounds it).
template <class V, Quants32<V> (*kDecode)(const uint8_t*), int kBytes>
float DotAffine(const float* lut, const uint8_t* p, const float* x, int64_t num_blocks) {
  typename V::F acc = V::Zero();
  for (int64_t i = 0; i < num_blocks; ++i, x += 32) {
    const uint8_t* b = p + i * kBytes;
    PrefetchAhead(b);
    const Quants32<V> q = kDecode(b);
    const typename V::F d = V::Set1(Half(lut, b)), m = V::Set1(Half(lut, b + 2));
#pragma GCC unroll 8
    for (int k = 0; k < Quants32<V>::kParts; ++k) {
      acc = V::MulAdd(V::Add(V::Mul(q.f[k], d), m), V::Load(x + V::kLanes * k), acc);
    }
  }
  return V::ReduceAdd(acc);
}

template <class V, Quants32<V> (*kDecode)(const uint8_t*), int kBytes>
void DequantScaled(const float* lut, const uint8_t* p, float* y, int64_t num_blocks) {
  for (int64_t i = 0; i < num_blocks; ++i, y += 32) {
    const uint8_t* b = p + i * kBytes;
    const Quants32<V> q = kDecode(b);
    const typename V::F d = V::Set1(Half(lut, b));
#pragma GCC unroll 8
    for (int k = 0; k < Quants32<V>::kParts; ++k) V::Store(y + V::kLanes * k, V::Mul(q.f[k], d));
  }
}

template <class V, Quants32<V> (*kDecode)(const uint8_t*), int kBytes>
void DequantAffine(const float* lut, const uint8_t* p, float* y, int64_t num_blocks) {
  for (int64_t i = 0; i < num_blocks; ++i, y += 32) {
    const uint8_t* b = p + i * kBytes;
    const Quants32<V> q = kDecode(b);
    const typename V::F d = V::Set1(Half(lut, b)), m = V::Set1(Half(lut, b + 2));
#pragma GCC unroll 8
    for (int k = 0; k < Quants32<V>::kParts; ++k) {
      V::Store(y + V::kLanes * k, V::Add(V::Mul(q.f[k], d), m));
    }
  }
}

// ---- K-types ------------------------------------------------------------------------------

// y = d1 * q - m1 per sub-block of 32 (multiply, then subtract: as Store32K rounds it).
template <class V, bool kFive>
float DotK45(const float* lut, const uint8_t* p, const float* x, int64_t num_blocks) {
  constexpr int kBytes = kFive ? internal::kQ5_KBytes : internal::kQ4_KBytes;
  typename V::F acc = V::Zero();
  alignas(32) float dsc[8], dmn[8];
  for (int64_t i = 0; i < num_blocks; ++i, x += 256) {
    const uint8_t* b = p + i * kBytes;
#pragma GCC unroll 8
    for (int line = 0; line < kBytes; line += 64) PrefetchAhead(b + line);
    ScalesK45(lut, b, dsc, dmn);
    __m256i quants[2];
#pragma GCC unroll 8
    for (int j = 0; j < 8; ++j) {  // sub-blocks of 32; chunk j / 2 holds j and j ^ 1
      if ((j & 1) == 0) QuantsK45<kFive>(b, j / 2, &quants[0], &quants[1]);
      const Quants32<V> q = ToFloats<V>(quants[j & 1]);
      const typename V::F d = V::Broadcast(dsc + j), m = V::Broadcast(dmn + j);
      const float* xj = x + 32 * j;
#pragma GCC unroll 8
      for (int k = 0; k < Quants32<V>::kParts; ++k) {
        acc = V::MulAdd(V::Sub(V::Mul(d, q.f[k]), m), V::Load(xj + V::kLanes * k), acc);
      }
    }
  }
  return V::ReduceAdd(acc);
}

// y = d1 * q - m1 (the K-type formula, unfused as in the scalar code).
template <class V>
inline void Store32K(float* y, const Quants32<V>& q, const float* d1, const float* m1) {
  const typename V::F d = V::Broadcast(d1), m = V::Broadcast(m1);
#pragma GCC unroll 8
  for (int k = 0; k < Quants32<V>::kParts; ++k) {
    V::Store(y + V::kLanes * k, V::Sub(V::Mul(d, q.f[k]), m));
  }
}

template <class V, bool kFive>
void DequantK45(const float* lut, const uint8_t* p, float* y, int64_t num_blocks) {
  constexpr int kBytes = kFive ? internal::kQ5_KBytes : internal::kQ4_KBytes;
  alignas(32) float dsc[8], dmn[8];
  for (int64_t i = 0; i < num_blocks; ++i, y += 256) {
    const uint8_t* b = p + i * kBytes;
    ScalesK45(lut, b, dsc, dmn);
#pragma GCC unroll 8
    for (int c = 0; c < 4; ++c) {
      __m256i lo, hi;
      QuantsK45<kFive>(b, c, &lo, &hi);
      Store32K<V>(y + 64 * c, ToFloats<V>(lo), dsc + 2 * c, dmn + 2 * c);
      Store32K<V>(y + 64 * c + 32, ToFloats<V>(hi), dsc + 2 * c + 1, dmn + 2 * c + 1);
    }
  }
}

// Q6_K: scale dsc[8n + 2k] covers elements 0-15 of group k of half n, dsc[8n + 2k + 1]
// elements 16-31; so vector part t of a group takes dsc[8n + 2k + t * kLanes / 16].
// Calls f(offset, d * q) for every vector part of every block, in order: `offset` is the
// part's first element counted from the row's start, d * q its scaled quants.
template <class V, bool kPrefetch, class F>
void ForEachQ6_K(const float* lut, const uint8_t* p, int64_t num_blocks, F&& f) {
  alignas(32) float dsc[16];
  for (int64_t i = 0; i < num_blocks; ++i) {
    const uint8_t* b = p + i * internal::kQ6_KBytes;
    if constexpr (kPrefetch) {
#pragma GCC unroll 8
      for (int line = 0; line < internal::kQ6_KBytes; line += 64) PrefetchAhead(b + line);
    }
    ScalesQ6_K(lut, b, dsc);
#pragma GCC unroll 8
    for (int n = 0; n < 2; ++n) {
      __m256i g[4];
      QuantsQ6_K(b, n, g);
#pragma GCC unroll 8
      for (int k = 0; k < 4; ++k) {
        const Quants32<V> q = ToFloats<V>(g[k]);
        const int is = 8 * n + 2 * k;
#pragma GCC unroll 8
        for (int t = 0; t < Quants32<V>::kParts; ++t) {
          const typename V::F d = V::Broadcast(dsc + is + t * V::kLanes / 16);
          f(256 * i + 128 * n + 32 * k + V::kLanes * t, V::Mul(d, q.f[t]));
        }
      }
    }
  }
}

template <class V>
float DotQ6_K(const float* lut, const uint8_t* p, const float* x, int64_t num_blocks) {
  typename V::F acc = V::Zero();
  ForEachQ6_K<V, /*kPrefetch=*/true>(lut, p, num_blocks, [&](int64_t at, typename V::F dq) {
    acc = V::MulAdd(dq, V::Load(x + at), acc);
  });
  return V::ReduceAdd(acc);
}

template <class V>
void DequantQ6_K(const float* lut, const uint8_t* p, float* y, int64_t num_blocks) {
  ForEachQ6_K<V, /*kPrefetch=*/false>(lut, p, num_blocks,
                                      [&](int64_t at, typename V::F dq) { V::Store(y + at, dq); });
}

// ---- Row entry points -------------------------------------------------------------------

// DequantizeRow / DotRow over a per-ISA kernel set K: K::V (the traits), the block decoders
// K::kQ4_0, kQ4_1, kQ5_0, kQ5_1, kQ8_0 (const uint8_t* -> Quants32<V>), and the plain-float
// kernels K::kDotWeights, kDotF16, kDotBF16, kDequantF16, kDequantBF16, whose loop and tail
// shapes differ per ISA. Types without a kernel go through the scalar dequantizer.
template <class K>
void DequantizeRowOf(TensorType type, const void* row, float* dst, int64_t n) {
  using V = typename K::V;
  using internal::kQ4_0Bytes, internal::kQ4_1Bytes, internal::kQ5_0Bytes, internal::kQ5_1Bytes,
      internal::kQ8_0Bytes;
  const uint8_t* p = static_cast<const uint8_t*>(row);
  const float* lut = internal::HalfToFloatTable();
  switch (type) {
    case TensorType::kF32: std::memcpy(dst, p, static_cast<size_t>(n) * 4); return;
    case TensorType::kF16: K::kDequantF16(p, dst, n); return;
    case TensorType::kBF16: K::kDequantBF16(p, dst, n); return;
    case TensorType::kQ4_0: DequantScaled<V, K::kQ4_0, kQ4_0Bytes>(lut, p, dst, n / 32); return;
    case TensorType::kQ5_0: DequantScaled<V, K::kQ5_0, kQ5_0Bytes>(lut, p, dst, n / 32); return;
    case TensorType::kQ8_0: DequantScaled<V, K::kQ8_0, kQ8_0Bytes>(lut, p, dst, n / 32); return;
    case TensorType::kQ4_1: DequantAffine<V, K::kQ4_1, kQ4_1Bytes>(lut, p, dst, n / 32); return;
    case TensorType::kQ5_1: DequantAffine<V, K::kQ5_1, kQ5_1Bytes>(lut, p, dst, n / 32); return;
    case TensorType::kQ4_K: DequantK45<V, false>(lut, p, dst, n / 256); return;
    case TensorType::kQ5_K: DequantK45<V, true>(lut, p, dst, n / 256); return;
    case TensorType::kQ6_K: DequantQ6_K<V>(lut, p, dst, n / 256); return;
    default: scalar::DequantizeRow(type, row, dst, n); return;
  }
}

template <class K>
float DotRowOf(TensorType type, const void* row, const float* x, int64_t n) {
  using V = typename K::V;
  using internal::kQ4_0Bytes, internal::kQ4_1Bytes, internal::kQ5_0Bytes, internal::kQ5_1Bytes,
      internal::kQ8_0Bytes;
  const uint8_t* p = static_cast<const uint8_t*>(row);
  const float* lut = internal::HalfToFloatTable();
  switch (type) {
    case TensorType::kF32: return K::kDotWeights(reinterpret_cast<const float*>(p), x, n);
    case TensorType::kF16: return K::kDotF16(p, x, n);
    case TensorType::kBF16: return K::kDotBF16(p, x, n);
    case TensorType::kQ4_0: return DotScaled<V, K::kQ4_0, kQ4_0Bytes>(lut, p, x, n / 32);
    case TensorType::kQ5_0: return DotScaled<V, K::kQ5_0, kQ5_0Bytes>(lut, p, x, n / 32);
    case TensorType::kQ8_0: return DotScaled<V, K::kQ8_0, kQ8_0Bytes>(lut, p, x, n / 32);
    case TensorType::kQ4_1: return DotAffine<V, K::kQ4_1, kQ4_1Bytes>(lut, p, x, n / 32);
    case TensorType::kQ5_1: return DotAffine<V, K::kQ5_1, kQ5_1Bytes>(lut, p, x, n / 32);
    case TensorType::kQ4_K: return DotK45<V, false>(lut, p, x, n / 256);
    case TensorType::kQ5_K: return DotK45<V, true>(lut, p, x, n / 256);
    case TensorType::kQ6_K: return DotQ6_K<V>(lut, p, x, n / 256);
    default: {
      float* w = internal::ThreadScratch(internal::ScratchSlot::kRow, n);
      scalar::DequantizeRow(type, row, w, n);
      return K::kDotWeights(w, x, n);
    }
  }
}

}  // namespace
}  // namespace parley::simd
