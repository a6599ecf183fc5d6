// AVX-512 versions of the f32 ops that the quant kernels lean on (DotF32) and of the block
// softmax (ExpShifted). The other ops use their AVX2 versions at this level. Compiled only
// with the AVX-512 flags; no standard-library code here (see avx2_decode_inl.h). Stateless;
// thread-safe.

// GCC 12's AVX-512 headers trip -Wmaybe-uninitialized on their own _mm512_undefined_*
// placeholders (GCC bug 105593); silence it for the header only.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop

#include <cstdint>

#include "kernels/ops_internal.h"
#include "kernels/simd/exp_inl.h"
#include "kernels/simd/vec_avx512_inl.h"

namespace parley::avx512 {

// `a` is streamed with a prefetch 2 KiB ahead: DotRow passes F32 weight rows here.
float DotF32(const float* a, const float* b, int64_t n) {
  __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
  __m512 acc2 = _mm512_setzero_ps(), acc3 = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 64 <= n; i += 64) {
    for (int line = 0; line < 256; line += 64) {
      _mm_prefetch(reinterpret_cast<const char*>(a + i) + 2048 + line, _MM_HINT_T0);
    }
    acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), acc0);
    acc1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), acc1);
    acc2 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 32), _mm512_loadu_ps(b + i + 32), acc2);
    acc3 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 48), _mm512_loadu_ps(b + i + 48), acc3);
  }
  for (; i < n; i += 16) {
    const __mmask16 m = n - i >= 16 ? 0xFFFF : static_cast<__mmask16>((1u << (n - i)) - 1);
    acc0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i), acc0);
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(acc0, acc1), _mm512_add_ps(acc2, acc3)));
}

// ExpShifted (ops.h) 16 lanes at a time, the tail under a mask; lane sums added at the end.
float ExpShifted(float* x, int64_t n, float* max) {
  __m512 mv = _mm512_set1_ps(x[0]);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) mv = _mm512_max_ps(mv, _mm512_loadu_ps(x + i));
  const __mmask16 tail = static_cast<__mmask16>((1u << (n - i)) - 1);
  if (i < n) mv = _mm512_mask_max_ps(mv, tail, mv, _mm512_maskz_loadu_ps(tail, x + i));
  const float m = _mm512_reduce_max_ps(mv);
  *max = m;
  return simd::ExpShiftedSum<simd::VecAvx512>(x, n, m);
}

}  // namespace parley::avx512
