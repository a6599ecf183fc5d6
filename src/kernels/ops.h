// Small f32 vector operations used by the forward pass (norms, activations, attention
// helpers). Scalar references in namespace scalar; dispatched versions use SIMD.
#pragma once

#include <cstdint>

namespace parley {

// Returns sum_i a[i] * b[i].
float DotF32(const float* a, const float* b, int64_t n);
// y[i] += a * x[i].
void AxpyF32(float a, const float* x, float* y, int64_t n);
// y[i] = x[i] / sqrt(mean(x^2) + eps) * w[i]. x and y may alias.
void RmsNorm(const float* x, const float* w, float* y, int64_t n, float eps);
// x[i] = gelu_tanh(x[i]) * y[i]  (GeGLU gate), in place on x.
void GeluTanhMul(float* x, const float* y, int64_t n);
// x[i] = silu(x[i]) * y[i]  (SwiGLU gate), in place on x.
void SiluMul(float* x, const float* y, int64_t n);
// x[i] = exp(x[i] - max) / sum, in place. REQUIRES n > 0.
void SoftmaxInPlace(float* x, int64_t n);
// The unnormalized softmax of a block of attention scores: *max = max_i x[i], then
// x[i] = exp(x[i] - *max) in place; returns sum_i x[i]. REQUIRES n > 0.
float ExpShifted(float* x, int64_t n, float* max);
// y[i] += x[i].
void AddF32(const float* x, float* y, int64_t n);
// x[i] *= a.
void ScaleF32(float* x, float a, int64_t n);

namespace scalar {
float DotF32(const float* a, const float* b, int64_t n);
void AxpyF32(float a, const float* x, float* y, int64_t n);
void RmsNorm(const float* x, const float* w, float* y, int64_t n, float eps);
void GeluTanhMul(float* x, const float* y, int64_t n);
void SiluMul(float* x, const float* y, int64_t n);
void SoftmaxInPlace(float* x, int64_t n);
float ExpShifted(float* x, int64_t n, float* max);
void AddF32(const float* x, float* y, int64_t n);
void ScaleF32(float* x, float a, int64_t n);
}  // namespace scalar

}  // namespace parley
