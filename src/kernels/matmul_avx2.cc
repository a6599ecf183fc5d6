// AVX2 MatMulRows: simd/matmul_inl.h instantiated with VecAvx2 (8 lanes, 4 rows x 3 tokens
// register tile, scalar row tail). Compiled with -mavx2 -mfma -mf16c; no standard-library
// templates (see avx2_decode_inl.h). Reentrant; scratch is per thread.
#include <cstdint>

#include "kernels/quant_internal.h"
#include "kernels/simd/matmul_inl.h"
#include "kernels/simd/vec_avx2_inl.h"

namespace parley::avx2 {

void MatMulRows(const MatMulArgs& a, int64_t row_begin, int64_t row_end) {
  simd::MatMulRowsT<simd::VecAvx2>(a, row_begin, row_end);
}

}  // namespace parley::avx2
