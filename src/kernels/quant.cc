// Dispatch of the weight-row kernels to the scalar, AVX2 or AVX-512 versions through a
// table of function pointers indexed by ActiveSimdLevel(). Thread-safe.
#include "kernels/quant.h"

#include "kernels/cpu.h"
#include "kernels/quant_internal.h"

namespace parley {
namespace {

struct QuantKernels {
  void (*dequantize_row)(TensorType, const void*, float*, int64_t);
  float (*dot_row)(TensorType, const void*, const float*, int64_t);
  void (*mat_mul_rows)(const MatMulArgs&, int64_t, int64_t);
};

// Indexed by SimdLevel.
constexpr QuantKernels kKernels[] = {
    {scalar::DequantizeRow, scalar::DotRow, scalar::MatMulRows},
    {avx2::DequantizeRow, avx2::DotRow, avx2::MatMulRows},
    {avx512::DequantizeRow, avx512::DotRow, avx512::MatMulRows},
};

const QuantKernels& Active() { return kKernels[static_cast<int>(ActiveSimdLevel())]; }

}  // namespace

void DequantizeRow(TensorType type, const void* row, float* dst, int64_t n) {
  Active().dequantize_row(type, row, dst, n);
}

float DotRow(TensorType type, const void* row, const float* x, int64_t n) {
  return Active().dot_row(type, row, x, n);
}

void MatMulRows(const MatMulArgs& args, int64_t row_begin, int64_t row_end) {
  Active().mat_mul_rows(args, row_begin, row_end);
}

}  // namespace parley
