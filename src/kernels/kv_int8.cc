// int8 KV rows (kv_int8.h): per-head absmax quantization.
#include "kernels/kv_int8.h"

#include <algorithm>
#include <cmath>

namespace parley {

void QuantizeKvRowI8(const float* x, int32_t kv_heads, int32_t head_dim, uint8_t* row) {
  for (int32_t h = 0; h < kv_heads; ++h) {
    const float* in = x + static_cast<size_t>(h) * head_dim;
    uint8_t* out = row + static_cast<size_t>(h) * KvI8HeadBytes(head_dim);
    float amax = 0.0f;
    for (int32_t i = 0; i < head_dim; ++i) amax = std::max(amax, std::fabs(in[i]));
    const float scale = amax / 127.0f;
    for (int32_t i = 0; i < head_dim; ++i) {
      const float q = scale > 0.0f ? std::clamp(in[i] / scale, -127.0f, 127.0f) : 0.0f;
      out[i] = static_cast<uint8_t>(static_cast<int8_t>(std::lround(q)));
    }
    std::memcpy(out + head_dim, &scale, sizeof(float));
  }
}

void DequantizeKvRowI8(const uint8_t* row, int32_t kv_heads, int32_t head_dim, float* x) {
  for (int32_t h = 0; h < kv_heads; ++h) {
    const uint8_t* in = row + static_cast<size_t>(h) * KvI8HeadBytes(head_dim);
    const float scale = KvI8Scale(in, head_dim);
    float* out = x + static_cast<size_t>(h) * head_dim;
    for (int32_t i = 0; i < head_dim; ++i) out[i] = scale * static_cast<float>(static_cast<int8_t>(in[i]));
  }
}

}  // namespace parley
