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

#include "kernels/avx2_decode_inl.h"
#include "kernels/quant_internal.h"

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
template <class V>
float DotQ6_K(const float* lut, const uint8_t* p, const float* x, int64_t num_blocks) {
  typename V::F acc = V::Zero();
  alignas(32) float dsc[16];
  for (int64_t i = 0; i < num_blocks; ++i) {
    const uint8_t* b = p + i * internal::kQ6_KBytes;
#pragma GCC unroll 8
    for (int line = 0; line < internal::kQ6_KBytes; line += 64) PrefetchAhead(b + line);
    ScalesQ6_K(lut, b, dsc);
#pragma GCC unroll 8
    for (int n = 0; n < 2; ++n, x += 128) {
      __m256i g[4];
      QuantsQ6_K(b, n, g);
#pragma GCC unroll 8
      for (int k = 0; k < 4; ++k) {
        const Quants32<V> q = ToFloats<V>(g[k]);
        const float* xg = x + 32 * k;
        const int is = 8 * n + 2 * k;
#pragma GCC unroll 8
        for (int t = 0; t < Quants32<V>::kParts; ++t) {
          const typename V::F d = V::Broadcast(dsc + is + t * V::kLanes / 16);
          acc = V::MulAdd(V::Mul(d, q.f[t]), V::Load(xg + V::kLanes * t), acc);
        }
      }
    }
  }
  return V::ReduceAdd(acc);
}

template <class V>
void DequantQ6_K(const float* lut, const uint8_t* p, float* y, int64_t num_blocks) {
  alignas(32) float dsc[16];
  for (int64_t i = 0; i < num_blocks; ++i) {
    const uint8_t* b = p + i * internal::kQ6_KBytes;
    ScalesQ6_K(lut, b, dsc);
#pragma GCC unroll 8
    for (int n = 0; n < 2; ++n, y += 128) {
      __m256i g[4];
      QuantsQ6_K(b, n, g);
#pragma GCC unroll 8
      for (int k = 0; k < 4; ++k) {
        const Quants32<V> q = ToFloats<V>(g[k]);
        const int is = 8 * n + 2 * k;
#pragma GCC unroll 8
        for (int t = 0; t < Quants32<V>::kParts; ++t) {
          const typename V::F d = V::Broadcast(dsc + is + t * V::kLanes / 16);
          V::Store(y + 32 * k + V::kLanes * t, V::Mul(d, q.f[t]));
        }
      }
    }
  }
}

}  // namespace
}  // namespace parley::simd
