// Dispatch of the int8-activation kernels to the scalar or AVX2 versions by
// ActiveSimdLevel(). The AVX-512 level runs the AVX2 code (256-bit maddubs/madd integer
// dots). Thread-safe.
#include "kernels/cpu.h"
#include "kernels/quant.h"
#include "kernels/quant_q8_internal.h"

namespace parley {
namespace {

struct Q8Kernels {
  float (*dot_row)(TensorType, const void*, const void*, int64_t);
  void (*quantize_row)(TensorType, const float*, void*, int64_t);
  void (*mat_mul_rows)(const MatMulQ8Args&, int64_t, int64_t);
};

// Indexed by SimdLevel.
constexpr Q8Kernels kKernels[] = {
    {scalar::DotRowQ8, scalar::QuantizeActivationRow, scalar::MatMulRowsQ8},
    {avx2::DotRowQ8, avx2::QuantizeActivationRow, avx2::MatMulRowsQ8},
    {avx2::DotRowQ8, avx2::QuantizeActivationRow, avx2::MatMulRowsQ8},
};

const Q8Kernels& Active() { return kKernels[static_cast<int>(ActiveSimdLevel())]; }

}  // namespace

void QuantizeActivationRow(TensorType act_type, const float* x, void* dst, int64_t n) {
  Active().quantize_row(act_type, x, dst, n);
}

float DotRowQ8(TensorType weight_type, const void* row, const void* xq, int64_t n) {
  return Active().dot_row(weight_type, row, xq, n);
}

void MatMulRowsQ8(const MatMulQ8Args& args, int64_t row_begin, int64_t row_end) {
  Active().mat_mul_rows(args, row_begin, row_end);
}

}  // namespace parley
