// Internal to the SIMD-flagged ops files (ops_avx2.cc, ops_avx512.cc): the vector exp and
// the exp-and-sum pass of the block softmax, written once over a vector-traits type V
// (simd/vec_avx2_inl.h, simd/vec_avx512_inl.h). Anonymous namespace: see avx2_decode_inl.h.
#pragma once

#include <cstdint>

namespace parley::simd {
namespace {

// exp(x) for x in about [-87, 88] (clamped there): x = k ln2 + r with |r| <= ln2/2, a
// degree-7 Taylor polynomial for exp(r) (truncation error < 6e-9 relative), times 2^k
// built in the exponent bits. Within 2 ulp of std::exp.
template <class V>
inline typename V::F Exp(typename V::F x) {
  using F = typename V::F;
  x = V::Min(V::Max(x, V::Set1(-87.0f)), V::Set1(88.0f));
  const F k = V::RoundNearest(V::Mul(x, V::Set1(1.44269504089f)));
  F r = V::NegMulAdd(k, V::Set1(0.693145751953125f), x);  // ln2, high bits
  r = V::NegMulAdd(k, V::Set1(1.428606765330187e-06f), r);  // ln2, the rest
  F p = V::Set1(1.0f / 5040.0f);
  p = V::MulAdd(p, r, V::Set1(1.0f / 720.0f));
  p = V::MulAdd(p, r, V::Set1(1.0f / 120.0f));
  p = V::MulAdd(p, r, V::Set1(1.0f / 24.0f));
  p = V::MulAdd(p, r, V::Set1(1.0f / 6.0f));
  p = V::MulAdd(p, r, V::Set1(0.5f));
  p = V::MulAdd(p, r, V::Set1(1.0f));
  p = V::MulAdd(p, r, V::Set1(1.0f));
  return V::Mul(p, V::Pow2(k));
}

// x[i] = exp(x[i] - m) for i < n, kLanes at a time and the tail under a mask; returns the
// lane sums, added by V::ReduceAdd.
template <class V>
inline float ExpShiftedSum(float* x, int64_t n, float m) {
  using F = typename V::F;
  const F shift = V::Set1(m);
  F sum = V::Zero();
  int64_t i = 0;
  for (; i + V::kLanes <= n; i += V::kLanes) {
    const F e = Exp<V>(V::Sub(V::Load(x + i), shift));
    V::Store(x + i, e);
    sum = V::Add(sum, e);
  }
  if (i < n) {
    const typename V::Tail t = V::TailOf(n - i);
    const F e = V::ZeroOutside(t, Exp<V>(V::Sub(V::LoadTail(t, x + i), shift)));
    V::StoreTail(x + i, t, e);
    sum = V::Add(sum, e);
  }
  return V::ReduceAdd(sum);
}

}  // namespace
}  // namespace parley::simd
