// Internal to kernels/: per-level entry points of the f32 ops (see ops.h for contracts),
// dispatched by ops.cc and reused by the quant kernels. No intrinsics here.
#pragma once

#include <cstdint>

namespace parley {

namespace avx2 {
float DotF32(const float* a, const float* b, int64_t n);
void AxpyF32(float a, const float* x, float* y, int64_t n);
void RmsNorm(const float* x, const float* w, float* y, int64_t n, float eps);
void AddF32(const float* x, float* y, int64_t n);
void ScaleF32(float* x, float a, int64_t n);
void GeluTanhMul(float* x, const float* y, int64_t n);
void SiluMul(float* x, const float* y, int64_t n);
float ExpShifted(float* x, int64_t n, float* max);
}  // namespace avx2

namespace avx512 {
float DotF32(const float* a, const float* b, int64_t n);
float ExpShifted(float* x, int64_t n, float* max);
}  // namespace avx512

}  // namespace parley
