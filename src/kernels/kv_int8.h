// The formats a KV cache row can hold, and the int8 one's quantization. An int8 row holds,
// per KV head, head_dim int8 values followed by one f32 scale (max |x| / 127 over the head;
// 0 for an all-zero head), so a row of kv_heads heads takes kv_heads * (head_dim + 4)
// bytes and a head's scale sits unaligned at head + head_dim. Quantization is per head and
// depends only on the row's floats, so a row stored twice from the same floats (cached vs
// recomputed, batched vs alone) is the same bytes. Scalar only: it runs once per stored
// token and layer, O(kv_dim), next to the O(kv_dim * hidden) projection that made the row.
// Stateless; thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace parley {

// How the attention kernels read K/V rows: f32, f16, or int8 heads with a trailing scale.
enum class KvRowFormat { kF32, kF16, kI8 };

// Bytes of one KV head of an int8 row: head_dim int8 values and an f32 scale.
constexpr size_t KvI8HeadBytes(int32_t head_dim) { return static_cast<size_t>(head_dim) + sizeof(float); }

// The scale of the int8 head at `head` (head_dim values, then the scale).
inline float KvI8Scale(const uint8_t* head, int32_t head_dim) {
  float scale;
  std::memcpy(&scale, head + head_dim, sizeof(float));
  return scale;
}

// x: [kv_heads, head_dim] floats -> row: [kv_heads][head_dim int8, f32 scale], with
// q = round(x / scale) (half away from zero), |q| <= 127.
void QuantizeKvRowI8(const float* x, int32_t kv_heads, int32_t head_dim, uint8_t* row);
// The inverse, up to rounding: x[h * head_dim + i] = scale_h * q_h[i].
void DequantizeKvRowI8(const uint8_t* row, int32_t kv_heads, int32_t head_dim, float* x);

}  // namespace parley
