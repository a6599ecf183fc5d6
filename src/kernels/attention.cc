// Scalar references of the attention kernels, the dispatch to their SIMD versions, and
// the block/merge steps around them (a block's softmax is ExpShifted, ops.h).
#include "kernels/attention.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "kernels/attention_internal.h"
#include "kernels/cpu.h"
#include "kernels/fp16.h"
#include "kernels/ops.h"

namespace parley {
namespace scalar {
namespace {
// Value i of a row of d values as the kernels read it (int8 rows: times its group's scale).
// Rows need not be aligned (the SIMD kernels load them unaligned): memcpy, not a cast.
float Value(const uint8_t* row, int32_t i, int32_t d, KvRowFormat format) {
  switch (format) {
    case KvRowFormat::kF16: {
      uint16_t h;
      std::memcpy(&h, row + sizeof(uint16_t) * i, sizeof(h));
      return F16ToF32(h);
    }
    case KvRowFormat::kI8:
      return KvI8Scale(row, d, i / kKvI8Group) * static_cast<float>(static_cast<int8_t>(row[i]));
    case KvRowFormat::kF32:
      break;
  }
  float x;
  std::memcpy(&x, row + sizeof(float) * i, sizeof(x));
  return x;
}
}  // namespace

void AttendScores(const float* q, int32_t heads, int32_t d, const uint8_t* const* k, int32_t len, KvRowFormat format,
                  float* s) {
  for (int32_t h = 0; h < heads; ++h) {
    for (int32_t j = 0; j < len; ++j) {
      double sum = 0.0;
      for (int32_t i = 0; i < d; ++i) sum += static_cast<double>(q[h * d + i]) * Value(k[j], i, d, format);
      s[h * len + j] = static_cast<float>(sum);
    }
  }
}

void AttendMix(const float* p, int32_t heads, int32_t d, const uint8_t* const* v, int32_t len, KvRowFormat format,
               float* acc) {
  for (int32_t h = 0; h < heads; ++h) {
    for (int32_t i = 0; i < d; ++i) {
      double sum = 0.0;
      for (int32_t j = 0; j < len; ++j) sum += static_cast<double>(p[h * len + j]) * Value(v[j], i, d, format);
      acc[h * d + i] = static_cast<float>(sum);
    }
  }
}

}  // namespace scalar

void AttendScores(const float* q, int32_t heads, int32_t d, const uint8_t* const* k, int32_t len, KvRowFormat format,
                  float* s) {
  const SimdLevel level = ActiveSimdLevel();
  if (level == SimdLevel::kAvx512 && d % 16 == 0) return avx512::AttendScores(q, heads, d, k, len, format, s);
  if (level >= SimdLevel::kAvx2 && d % 8 == 0) return avx2::AttendScores(q, heads, d, k, len, format, s);
  scalar::AttendScores(q, heads, d, k, len, format, s);
}

void AttendMix(const float* p, int32_t heads, int32_t d, const uint8_t* const* v, int32_t len, KvRowFormat format,
               float* acc) {
  const SimdLevel level = ActiveSimdLevel();
  if (level == SimdLevel::kAvx512 && d % 16 == 0) return avx512::AttendMix(p, heads, d, v, len, format, acc);
  if (level >= SimdLevel::kAvx2 && d % 8 == 0) return avx2::AttendMix(p, heads, d, v, len, format, acc);
  scalar::AttendMix(p, heads, d, v, len, format, acc);
}

void AttendBlock(const AttendBlockArgs& a, float* scores, float* acc, float* max, float* sum) {
  AttendScores(a.q, a.heads, a.d, a.k, a.len, a.format, scores);
  for (int32_t h = 0; h < a.heads; ++h) {
    sum[h] = ExpShifted(scores + static_cast<int64_t>(h) * a.len, a.len, &max[h]);
  }
  AttendMix(scores, a.heads, a.d, a.v, a.len, a.format, acc);
}

void AttendMerge(int32_t blocks, int32_t heads, int32_t d, const float* acc, const float* max, const float* sum,
                 float* out) {
  for (int32_t h = 0; h < heads; ++h) {
    float m = -std::numeric_limits<float>::infinity();
    for (int32_t b = 0; b < blocks; ++b) m = std::max(m, max[b * heads + h]);
    float* o = out + static_cast<int64_t>(h) * d;
    std::fill(o, o + d, 0.0f);
    double total = 0.0;
    for (int32_t b = 0; b < blocks; ++b) {
      const float w = std::exp(max[b * heads + h] - m);
      total += static_cast<double>(w) * sum[b * heads + h];
      const float* a = acc + (static_cast<int64_t>(b) * heads + h) * d;
      for (int32_t i = 0; i < d; ++i) o[i] += w * a[i];
    }
    const float inv = static_cast<float>(1.0 / total);
    for (int32_t i = 0; i < d; ++i) o[i] *= inv;
  }
}

}  // namespace parley
