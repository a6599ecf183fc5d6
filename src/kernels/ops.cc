// Scalar references of the f32 ops and the dispatch to their SIMD versions by
// ActiveSimdLevel(). The gated activations (GELU, SiLU) have AVX2 versions with their own
// exp, within a few ulps of the std::tanh / std::exp references (they took 12% of a
// prompt's time in scalar code); softmax's exp stays scalar at every level.
// Stateless; thread-safe.
#include "kernels/ops.h"

#include <cmath>
#include <cstdint>

#include "kernels/cpu.h"
#include "kernels/ops_internal.h"

namespace parley {
namespace scalar {

// Sums in double: the reference for the SIMD versions' f32 sums.
float DotF32(const float* a, const float* b, int64_t n) {
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(a[i]) * b[i];
  return static_cast<float>(sum);
}

void AxpyF32(float a, const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += a * x[i];
}

// As ggml's rms_norm: squares in f32, their sum in double, then y = (x * scale) * w with
// scale = 1 / sqrtf(mean + eps) in f32.
void RmsNorm(const float* x, const float* w, float* y, int64_t n, float eps) {
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(x[i] * x[i]);
  const float mean = static_cast<float>(sum / static_cast<double>(n));
  const float scale = 1.0f / std::sqrt(mean + eps);
  for (int64_t i = 0; i < n; ++i) y[i] = (x[i] * scale) * w[i];
}

void GeluTanhMul(float* x, const float* y, int64_t n) {
  constexpr float kSqrt2OverPi = 0.7978845608f;
  constexpr float kCoef = 0.044715f;
  for (int64_t i = 0; i < n; ++i) {
    const float z = x[i];
    const float g = 0.5f * z * (1.0f + std::tanh(kSqrt2OverPi * (z + kCoef * z * z * z)));
    x[i] = g * y[i];
  }
}

void SiluMul(float* x, const float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const float z = x[i];
    x[i] = z / (1.0f + std::exp(-z)) * y[i];
  }
}

// The AVX2 version's order: 8 lane sums (element i in lane i % 8), then lanes j + j+4,
// j + j+2, j + j+1.
float ExpShifted(float* x, int64_t n, float* max) {
  float m = x[0];
  for (int64_t i = 1; i < n; ++i) m = x[i] > m ? x[i] : m;
  float lane[8] = {};
  for (int64_t i = 0; i < n; ++i) {
    x[i] = std::exp(x[i] - m);
    lane[i % 8] += x[i];
  }
  *max = m;
  const float s4[4] = {lane[0] + lane[4], lane[1] + lane[5], lane[2] + lane[6], lane[3] + lane[7]};
  return (s4[0] + s4[2]) + (s4[1] + s4[3]);
}

void SoftmaxInPlace(float* x, int64_t n) {
  float max = x[0];
  for (int64_t i = 1; i < n; ++i) max = x[i] > max ? x[i] : max;
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    x[i] = std::exp(x[i] - max);
    sum += x[i];
  }
  const float inv = static_cast<float>(1.0 / sum);
  for (int64_t i = 0; i < n; ++i) x[i] *= inv;
}

void AddF32(const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += x[i];
}

void ScaleF32(float* x, float a, int64_t n) {
  for (int64_t i = 0; i < n; ++i) x[i] *= a;
}

}  // namespace scalar

namespace {
// Ops without an AVX-512 version use their AVX2 one at that level.
bool UseAvx2() { return ActiveSimdLevel() != SimdLevel::kScalar; }
}  // namespace

float DotF32(const float* a, const float* b, int64_t n) {
  switch (ActiveSimdLevel()) {
    case SimdLevel::kAvx512: return avx512::DotF32(a, b, n);
    case SimdLevel::kAvx2: return avx2::DotF32(a, b, n);
    default: return scalar::DotF32(a, b, n);
  }
}

void AxpyF32(float a, const float* x, float* y, int64_t n) {
  if (UseAvx2()) return avx2::AxpyF32(a, x, y, n);
  scalar::AxpyF32(a, x, y, n);
}

void RmsNorm(const float* x, const float* w, float* y, int64_t n, float eps) {
  if (UseAvx2()) return avx2::RmsNorm(x, w, y, n, eps);
  scalar::RmsNorm(x, w, y, n, eps);
}

void GeluTanhMul(float* x, const float* y, int64_t n) {
  if (UseAvx2()) return avx2::GeluTanhMul(x, y, n);
  scalar::GeluTanhMul(x, y, n);
}

void SiluMul(float* x, const float* y, int64_t n) {
  if (UseAvx2()) return avx2::SiluMul(x, y, n);
  scalar::SiluMul(x, y, n);
}

float ExpShifted(float* x, int64_t n, float* max) {
  if (ActiveSimdLevel() == SimdLevel::kAvx512) return avx512::ExpShifted(x, n, max);
  if (UseAvx2()) return avx2::ExpShifted(x, n, max);
  return scalar::ExpShifted(x, n, max);
}

void SoftmaxInPlace(float* x, int64_t n) { scalar::SoftmaxInPlace(x, n); }

void AddF32(const float* x, float* y, int64_t n) {
  if (UseAvx2()) return avx2::AddF32(x, y, n);
  scalar::AddF32(x, y, n);
}

void ScaleF32(float* x, float a, int64_t n) {
  if (UseAvx2()) return avx2::ScaleF32(x, a, n);
  scalar::ScaleF32(x, a, n);
}

}  // namespace parley
