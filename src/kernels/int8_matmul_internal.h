// Internal to kernels/: per-level entry points of the W8A8 product (int8_matmul.h). No
// intrinsics here.
#pragma once

#include <cstdint>

#include "kernels/int8_matmul.h"

namespace parley {
namespace avx2 {
void MatMulRowsI8(const I8MatMulArgs& a, int64_t row_begin, int64_t row_end);
}  // namespace avx2
namespace vnni {
void MatMulRowsI8(const I8MatMulArgs& a, int64_t row_begin, int64_t row_end);
}  // namespace vnni
}  // namespace parley
