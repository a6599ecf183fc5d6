// Attention kernels for multi-query / grouped-query attention: the query heads that share
// one KV head are computed together, so each K and V row is read once for all of them.
// Rows are passed as pointers (they live in KV pages), already offset to the KV head's
// values: d of them in f32 or f16, or d int8 values and their f16 scales, one per 32 values
// (kv_int8.h), which the kernels apply as they widen the values to f32 (each scale * q is
// exact in f32, so every level reads the same values).
//
// Positions are taken in blocks of at most kAttendBlock: AttendBlock gives a block's
// partial softmax state (its max score, its sum of exp(score - max), and the unnormalized
// sum of exp(score - max) * V), and AttendMerge combines blocks in order. Blocks are fixed
// by position, not by thread count, so a token's output is the same however the work is
// spread, batched or chunked. Stateless; thread-safe.
#pragma once

#include <cstdint>

#include "kernels/kv_int8.h"

namespace parley {

constexpr int32_t kAttendBlock = 128;

struct AttendBlockArgs {
  const float* q = nullptr;          // [heads][d], already scaled
  int32_t heads = 1;                 // query heads sharing the KV head
  int32_t d = 0;                     // head dimension
  const uint8_t* const* k = nullptr;  // [len] K rows
  const uint8_t* const* v = nullptr;  // [len] V rows
  int32_t len = 0;                   // 1..kAttendBlock
  KvRowFormat format = KvRowFormat::kF32;  // how K and V rows are stored
};

// scores: scratch of heads * len floats. acc: [heads][d]; max, sum: [heads].
void AttendBlock(const AttendBlockArgs& a, float* scores, float* acc, float* max, float* sum);
// out[h] = sum_b exp(max_b[h] - M) * acc_b[h] / sum_b exp(max_b[h] - M) * sum_b[h], with
// block b's state at acc + b * heads * d, max + b * heads, sum + b * heads.
void AttendMerge(int32_t blocks, int32_t heads, int32_t d, const float* acc, const float* max, const float* sum,
                 float* out);

// The two inner kernels, dispatched by the active SIMD level:
// s[h * len + j] = q[h] . k[j] (int8 rows: their values times their group scales)
void AttendScores(const float* q, int32_t heads, int32_t d, const uint8_t* const* k, int32_t len, KvRowFormat format, float* s);
// acc[h * d + i] = sum_j p[h * len + j] * v[j][i] (int8 rows: as for k)
void AttendMix(const float* p, int32_t heads, int32_t d, const uint8_t* const* v, int32_t len, KvRowFormat format, float* acc);

namespace scalar {
void AttendScores(const float* q, int32_t heads, int32_t d, const uint8_t* const* k, int32_t len, KvRowFormat format, float* s);
void AttendMix(const float* p, int32_t heads, int32_t d, const uint8_t* const* v, int32_t len, KvRowFormat format, float* acc);
}  // namespace scalar

}  // namespace parley
