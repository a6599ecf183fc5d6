// Internal to the SIMD-flagged attention files (attention_avx2.cc, attention_avx512.cc): the
// attention kernels (attention.h) written once over a vector-traits type V
// (simd/vec_avx2_inl.h, simd/vec_avx512_inl.h). Up to four query heads per pass over the
// K/V rows, each row loaded once per pass (int8 rows widened to f32 and scaled in
// registers). Each ISA's operation order and reduction are those of its former
// hand-written copy. Anonymous namespace: see avx2_decode_inl.h.
#pragma once

#include <cstdint>

#include "kernels/attention_internal.h"

namespace parley::simd {
namespace {

// NB heads (q rows at q, stride d) against every K row; two accumulators per head.
// REQUIRES d % V::kLanes == 0.
template <class V, int NB, KvRowFormat R>
void Scores(const float* q, int32_t d, const uint8_t* const* k, int32_t len, float* s, int32_t ld) {
  using F = typename V::F;
  constexpr int L = V::kLanes;
  for (int32_t j = 0; j < len; ++j) {
    const uint8_t* row = k[j];
    F acc[NB][2];
    for (int g = 0; g < NB; ++g) acc[g][0] = acc[g][1] = V::Zero();
    int32_t i = 0;
    for (; i + 2 * L <= d; i += 2 * L) {
      const F k0 = V::template LoadKv<R>(row, i, d), k1 = V::template LoadKv<R>(row, i + L, d);
      for (int g = 0; g < NB; ++g) {
        acc[g][0] = V::MulAdd(V::Load(q + g * d + i), k0, acc[g][0]);
        acc[g][1] = V::MulAdd(V::Load(q + g * d + i + L), k1, acc[g][1]);
      }
    }
    if (i < d) {  // d % (2 * L) == L
      const F k0 = V::template LoadKv<R>(row, i, d);
      for (int g = 0; g < NB; ++g) acc[g][0] = V::MulAdd(V::Load(q + g * d + i), k0, acc[g][0]);
    }
    for (int g = 0; g < NB; ++g) s[g * ld + j] = V::ReduceAdd(V::Add(acc[g][0], acc[g][1]));
  }
}

// All heads against len K rows (scores of head h at s + h * ld), four heads at a time.
template <class V, KvRowFormat R>
void ScoresHeads(const float* q, int32_t heads, int32_t d, const uint8_t* const* k, int32_t len, float* s,
                 int32_t ld) {
  int32_t h = 0;
  for (; h + 4 <= heads; h += 4) Scores<V, 4, R>(q + h * d, d, k, len, s + h * ld, ld);
  switch (heads - h) {
    case 3: Scores<V, 3, R>(q + h * d, d, k, len, s + h * ld, ld); break;
    case 2: Scores<V, 2, R>(q + h * d, d, k, len, s + h * ld, ld); break;
    case 1: Scores<V, 1, R>(q + h * d, d, k, len, s + h * ld, ld); break;
    default: break;
  }
}

// NB heads' weights (p rows at p, stride ld) times the V rows, W vectors of columns at a
// time starting at column c.
template <class V, int NB, int W, KvRowFormat R>
void MixColumns(const float* p, int32_t ld, int32_t d, const uint8_t* const* v, int32_t len, int32_t c,
                float* acc) {
  using F = typename V::F;
  constexpr int L = V::kLanes;
  F sum[NB][W];
  for (int g = 0; g < NB; ++g) {
    for (int w = 0; w < W; ++w) sum[g][w] = V::Zero();
  }
  for (int32_t j = 0; j < len; ++j) {
    F x[W];
    for (int w = 0; w < W; ++w) x[w] = V::template LoadKv<R>(v[j], c + L * w, d);
    for (int g = 0; g < NB; ++g) {
      const F pj = V::Set1(p[g * ld + j]);
      for (int w = 0; w < W; ++w) sum[g][w] = V::MulAdd(pj, x[w], sum[g][w]);
    }
  }
  for (int g = 0; g < NB; ++g) {
    for (int w = 0; w < W; ++w) V::Store(acc + g * d + c + L * w, sum[g][w]);
  }
}

template <class V, int NB, KvRowFormat R>
void Mix(const float* p, int32_t ld, int32_t d, const uint8_t* const* v, int32_t len, float* acc) {
  constexpr int L = V::kLanes, W = V::kMixWide;
  int32_t c = 0;
  for (; c + W * L <= d; c += W * L) MixColumns<V, NB, W, R>(p, ld, d, v, len, c, acc);
  for (; c < d; c += L) MixColumns<V, NB, 1, R>(p, ld, d, v, len, c, acc);
}

template <class V, KvRowFormat R>
void MixAll(const float* p, int32_t heads, int32_t d, const uint8_t* const* v, int32_t len, float* acc) {
  int32_t h = 0;
  for (; h + 4 <= heads; h += 4) Mix<V, 4, R>(p + h * len, len, d, v, len, acc + h * d);
  switch (heads - h) {
    case 3: Mix<V, 3, R>(p + h * len, len, d, v, len, acc + h * d); break;
    case 2: Mix<V, 2, R>(p + h * len, len, d, v, len, acc + h * d); break;
    case 1: Mix<V, 1, R>(p + h * len, len, d, v, len, acc + h * d); break;
    default: break;
  }
}

// attention.h's AttendMix for one ISA.
template <class V>
void AttendMixT(const float* p, int32_t heads, int32_t d, const uint8_t* const* v, int32_t len, KvRowFormat format,
                float* acc) {
  switch (format) {
    case KvRowFormat::kF32: return MixAll<V, KvRowFormat::kF32>(p, heads, d, v, len, acc);
    case KvRowFormat::kF16: return MixAll<V, KvRowFormat::kF16>(p, heads, d, v, len, acc);
    case KvRowFormat::kI8: return MixAll<V, KvRowFormat::kI8>(p, heads, d, v, len, acc);
  }
}

// attention.h's AttendScores for one ISA, given its ScoresAll<R>(q, heads, d, k, len, s).
template <template <KvRowFormat> class ScoresAll>
void AttendScoresT(const float* q, int32_t heads, int32_t d, const uint8_t* const* k, int32_t len,
                   KvRowFormat format, float* s) {
  switch (format) {
    case KvRowFormat::kF32: return ScoresAll<KvRowFormat::kF32>::Run(q, heads, d, k, len, s);
    case KvRowFormat::kF16: return ScoresAll<KvRowFormat::kF16>::Run(q, heads, d, k, len, s);
    case KvRowFormat::kI8: return ScoresAll<KvRowFormat::kI8>::Run(q, heads, d, k, len, s);
  }
}

}  // namespace
}  // namespace parley::simd
