// The formats a KV cache row can hold, and the int8 one's quantization. An int8 row holds,
// per KV head, head_dim int8 values followed by one f16 scale per group of kKvI8Group
// values along head_dim (max |x| / 127 over the group, rounded up to f16; 0 for an all-zero
// group), so a head of 256 takes 256 + 16 bytes and its scales sit unaligned after its
// values. Every dequantized value scale * q is exact in f32 (11 by 8 significant bits), so
// kernels at any SIMD level read the same values. Quantization depends only on the row's
// floats, so a row stored twice from the same floats (cached vs recomputed, batched vs
// alone) is the same bytes. Scalar only: it runs once per stored token and layer, O(kv_dim),
// next to the O(kv_dim * hidden) projection that made the row. Stateless; thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>

namespace parley {

// How the attention kernels read K/V rows: f32, f16, or int8 heads with trailing scales.
enum class KvRowFormat { kF32, kF16, kI8 };

// Values of an int8 head that share one scale. Keys have a few large channels; a scale per
// head let them set the step for the whole head (Gemma 3 270M: +0.48% perplexity against
// about +0.1% with a scale per 32).
constexpr int32_t kKvI8Group = 32;

// Scales of one int8 head: ceil(head_dim / kKvI8Group).
constexpr int32_t KvI8Groups(int32_t head_dim) { return (head_dim + kKvI8Group - 1) / kKvI8Group; }

// Bytes of one KV head of an int8 row: head_dim int8 values and its f16 scales.
constexpr size_t KvI8HeadBytes(int32_t head_dim) {
  return static_cast<size_t>(head_dim) + sizeof(uint16_t) * static_cast<size_t>(KvI8Groups(head_dim));
}

// The f32 value of scale `group` of the int8 head at `head`.
float KvI8Scale(const uint8_t* head, int32_t head_dim, int32_t group);

// x: [kv_heads, head_dim] floats -> row: [kv_heads][head_dim int8, KvI8Groups f16 scales],
// with q = round(x / scale) (half away from zero), |q| <= 127.
void QuantizeKvRowI8(const float* x, int32_t kv_heads, int32_t head_dim, uint8_t* row);
// The inverse, up to rounding: x[h * head_dim + i] = scale_{h, i / kKvI8Group} * q_h[i].
void DequantizeKvRowI8(const uint8_t* row, int32_t kv_heads, int32_t head_dim, float* x);

}  // namespace parley
