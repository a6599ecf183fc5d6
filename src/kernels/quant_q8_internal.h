// Internal to kernels/: activation block layouts of the int8-activation path and its
// per-level entry points, which quant_q8.cc dispatches to. No intrinsics here.
#pragma once

#include <cstdint>

#include "kernels/quant.h"

namespace parley {
namespace internal {

constexpr int kQ8_0ActBytes = 34;  // d (f16) @0, qs[32] @2 (same as the Q8_0 weight block)
constexpr int kQ8_1Bytes = 36;   // d (f16) @0, s (f16) @2, qs[32] @4
constexpr int kQ8_KBytes = 292;  // d (f32) @0, qs[256] @4, bsums[16] (int16) @260
constexpr int kQ8_KQs = 4;
constexpr int kQ8_KBsums = 260;

}  // namespace internal

namespace avx2 {
float DotRowQ8(TensorType weight_type, const void* row, const void* xq, int64_t n);
void QuantizeActivationRow(TensorType act_type, const float* x, void* dst, int64_t n);
void MatMulRowsQ8(const MatMulQ8Args& args, int64_t row_begin, int64_t row_end);
}  // namespace avx2

}  // namespace parley
