// Internal to kernels/: per-level entry points of the attention kernels (see
// attention.h), dispatched by attention.cc. They require d % 8 == 0 (AVX2) or
// d % 16 == 0 (AVX-512); the dispatcher falls back otherwise. No intrinsics here.
#pragma once

#include <cstdint>

#include "kernels/kv_int8.h"

namespace parley {

namespace avx2 {
void AttendScores(const float* q, int32_t heads, int32_t d, const uint8_t* const* k, int32_t len, KvRowFormat format, float* s);
void AttendMix(const float* p, int32_t heads, int32_t d, const uint8_t* const* v, int32_t len, KvRowFormat format, float* acc);
}  // namespace avx2

namespace avx512 {
void AttendScores(const float* q, int32_t heads, int32_t d, const uint8_t* const* k, int32_t len, KvRowFormat format, float* s);
void AttendMix(const float* p, int32_t heads, int32_t d, const uint8_t* const* v, int32_t len, KvRowFormat format, float* acc);
}  // namespace avx512

}  // namespace parley
