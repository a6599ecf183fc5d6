// AVX2 + FMA versions of the f32 ops. Compiled only with -mavx2 -mfma -mf16c
// -ffp-contract=off; reached through ops.cc after the CPU check. No standard-library code
// here (see avx2_decode_inl.h). Stateless; thread-safe.
#include <immintrin.h>

#include <cstdint>

#include "kernels/ops_internal.h"
#include "kernels/simd/exp_inl.h"
#include "kernels/simd/vec_avx2_inl.h"

namespace parley::avx2 {

// `a` is streamed with a prefetch 2 KiB ahead: DotRow passes F32 weight rows here.
float DotF32(const float* a, const float* b, int64_t n) {
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  __m256 acc2 = _mm256_setzero_ps(), acc3 = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    _mm_prefetch(reinterpret_cast<const char*>(a + i) + 2048, _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(a + i) + 2048 + 64, _MM_HINT_T0);
    acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
    acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), acc1);
    acc2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16), acc2);
    acc3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24), acc3);
  }
  for (; i + 8 <= n; i += 8) {
    acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
  }
  const __m256 acc = _mm256_add_ps(_mm256_add_ps(acc0, acc1), _mm256_add_ps(acc2, acc3));
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  float sum = _mm_cvtss_f32(s);
  for (; i < n; ++i) sum += a[i] * b[i];
  return sum;
}

void AxpyF32(float a, const float* x, float* y, int64_t n) {
  const __m256 av = _mm256_set1_ps(a);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    _mm256_storeu_ps(y + i, _mm256_fmadd_ps(av, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
  }
  for (; i < n; ++i) y[i] += a * x[i];
}

// Same arithmetic as scalar::RmsNorm (f32 squares, double sum, f32 scale), only the order
// of the double additions differs.
void RmsNorm(const float* x, const float* w, float* y, int64_t n, float eps) {
  __m256d acc0 = _mm256_setzero_pd(), acc1 = _mm256_setzero_pd();
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 v = _mm256_loadu_ps(x + i);
    const __m256 sq = _mm256_mul_ps(v, v);
    acc0 = _mm256_add_pd(acc0, _mm256_cvtps_pd(_mm256_castps256_ps128(sq)));
    acc1 = _mm256_add_pd(acc1, _mm256_cvtps_pd(_mm256_extractf128_ps(sq, 1)));
  }
  alignas(32) double lanes[4];
  _mm256_store_pd(lanes, _mm256_add_pd(acc0, acc1));
  double sum = (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
  for (int64_t k = i; k < n; ++k) sum += static_cast<double>(x[k] * x[k]);
  const float mean = static_cast<float>(sum / static_cast<double>(n));
  // The builtin, not std::sqrt: no inline library function may get an out-of-line copy
  // compiled with AVX2 flags (see avx2_decode_inl.h).
  const float scale = 1.0f / __builtin_sqrtf(mean + eps);
  const __m256 sv = _mm256_set1_ps(scale);
  for (i = 0; i + 8 <= n; i += 8) {
    const __m256 v = _mm256_mul_ps(_mm256_loadu_ps(x + i), sv);
    _mm256_storeu_ps(y + i, _mm256_mul_ps(v, _mm256_loadu_ps(w + i)));
  }
  for (; i < n; ++i) y[i] = (x[i] * scale) * w[i];
}

void AddF32(const float* x, float* y, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    _mm256_storeu_ps(y + i, _mm256_add_ps(_mm256_loadu_ps(y + i), _mm256_loadu_ps(x + i)));
  }
  for (; i < n; ++i) y[i] += x[i];
}

namespace {

using simd::VecAvx2;

// x[i] = f(x[i]) * y[i], 8 at a time; the tail through masked loads, so every element gets
// the same arithmetic wherever it sits.
template <typename F>
inline void GateMul(float* x, const float* y, int64_t n, F f) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    _mm256_storeu_ps(x + i, _mm256_mul_ps(f(_mm256_loadu_ps(x + i)), _mm256_loadu_ps(y + i)));
  }
  if (i < n) {
    const __m256i m = VecAvx2::TailOf(n - i);
    const __m256 g = f(_mm256_maskload_ps(x + i, m));
    _mm256_maskstore_ps(x + i, m, _mm256_mul_ps(g, _mm256_maskload_ps(y + i, m)));
  }
}

}  // namespace

// gelu_tanh(z) = 0.5 z (1 + tanh(u)) = z / (1 + exp(-2u)), u = sqrt(2/pi) (z + 0.044715 z^3).
void GeluTanhMul(float* x, const float* y, int64_t n) {
  GateMul(x, y, n, [](__m256 z) {
    const __m256 z3 = _mm256_mul_ps(_mm256_mul_ps(z, z), z);
    const __m256 u = _mm256_mul_ps(_mm256_set1_ps(0.7978845608f), _mm256_fmadd_ps(_mm256_set1_ps(0.044715f), z3, z));
    const __m256 e = simd::Exp<VecAvx2>(_mm256_mul_ps(_mm256_set1_ps(-2.0f), u));
    return _mm256_div_ps(z, _mm256_add_ps(_mm256_set1_ps(1.0f), e));
  });
}

// silu(z) = z / (1 + exp(-z)).
void SiluMul(float* x, const float* y, int64_t n) {
  GateMul(x, y, n, [](__m256 z) {
    const __m256 e = simd::Exp<VecAvx2>(_mm256_sub_ps(_mm256_setzero_ps(), z));
    return _mm256_div_ps(z, _mm256_add_ps(_mm256_set1_ps(1.0f), e));
  });
}

float ExpShifted(float* x, int64_t n, float* max) {
  __m256 mv = _mm256_set1_ps(x[0]);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) mv = _mm256_max_ps(mv, _mm256_loadu_ps(x + i));
  float m8[8];
  _mm256_storeu_ps(m8, mv);
  float m = m8[0];
  for (int j = 1; j < 8; ++j) m = m8[j] > m ? m8[j] : m;
  for (; i < n; ++i) m = x[i] > m ? x[i] : m;
  *max = m;
  return simd::ExpShiftedSum<VecAvx2>(x, n, m);
}

void ScaleF32(float* x, float a, int64_t n) {
  const __m256 av = _mm256_set1_ps(a);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_loadu_ps(x + i), av));
  for (; i < n; ++i) x[i] *= a;
}

}  // namespace parley::avx2
