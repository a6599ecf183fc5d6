// AVX-512 MatMulRows: simd/matmul_inl.h instantiated with VecAvx512 (16 lanes, 4 rows x 4
// tokens register tile, masked row tail). Compiled only with the AVX-512 flags; no
// standard-library code here (see avx2_decode_inl.h). Reentrant; scratch is per thread.
#include <cstdint>

#include "kernels/quant_internal.h"
#include "kernels/simd/matmul_inl.h"
#include "kernels/simd/vec_avx512_inl.h"

namespace parley::avx512 {

void MatMulRows(const MatMulArgs& a, int64_t row_begin, int64_t row_end) {
  simd::MatMulRowsT<simd::VecAvx512>(a, row_begin, row_end);
}

}  // namespace parley::avx512
