// int8 KV rows (kv_int8.h): absmax quantization per group of kKvI8Group values, f16 scales.
#include "kernels/kv_int8.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "kernels/fp16.h"

namespace parley {
namespace {

// The smallest f16 at or above amax / 127, so that no |x| / scale exceeds 127 and no value
// is clamped: the error stays within half a step for every element. Groups too large for
// f16 (amax > 127 * 65504) take the largest finite f16 and clamp.
uint16_t GroupScale(float amax) {
  const float want = amax / 127.0f;
  uint16_t h = F32ToF16(want);
  if (F16ToF32(h) < want) ++h;  // positive halves: the next bit pattern is the next value up
  if ((h & 0x7C00) == 0x7C00) h = 0x7BFF;
  return h;
}

}  // namespace

float KvI8Scale(const uint8_t* head, int32_t head_dim, int32_t group) {
  uint16_t h;
  std::memcpy(&h, head + head_dim + sizeof(uint16_t) * group, sizeof(h));
  return F16ToF32(h);
}

void QuantizeKvRowI8(const float* x, int32_t kv_heads, int32_t head_dim, uint8_t* row) {
  for (int32_t h = 0; h < kv_heads; ++h) {
    const float* in = x + static_cast<size_t>(h) * head_dim;
    uint8_t* out = row + static_cast<size_t>(h) * KvI8HeadBytes(head_dim);
    for (int32_t g = 0; g < KvI8Groups(head_dim); ++g) {
      const int32_t begin = g * kKvI8Group, end = std::min(head_dim, begin + kKvI8Group);
      float amax = 0.0f;
      for (int32_t i = begin; i < end; ++i) amax = std::max(amax, std::fabs(in[i]));
      const uint16_t bits = GroupScale(amax);
      const float scale = F16ToF32(bits);
      for (int32_t i = begin; i < end; ++i) {
        const float q = scale > 0.0f ? std::clamp(in[i] / scale, -127.0f, 127.0f) : 0.0f;
        out[i] = static_cast<uint8_t>(static_cast<int8_t>(std::lround(q)));
      }
      std::memcpy(out + head_dim + sizeof(uint16_t) * g, &bits, sizeof(bits));
    }
  }
}

void DequantizeKvRowI8(const uint8_t* row, int32_t kv_heads, int32_t head_dim, float* x) {
  for (int32_t h = 0; h < kv_heads; ++h) {
    const uint8_t* in = row + static_cast<size_t>(h) * KvI8HeadBytes(head_dim);
    float* out = x + static_cast<size_t>(h) * head_dim;
    for (int32_t i = 0; i < head_dim; ++i) {
      out[i] = KvI8Scale(in, head_dim, i / kKvI8Group) * static_cast<float>(static_cast<int8_t>(in[i]));
    }
  }
}

}  // namespace parley
