// IEEE half and bfloat16 conversions (scalar; exact, including subnormals, Inf, NaN).
#pragma once

#include <cstdint>
#include <cstring>

namespace parley {

float F16ToF32(uint16_t h);
uint16_t F32ToF16(float f);  // round to nearest even

inline float Bf16ToF32(uint16_t b) {
  uint32_t bits = static_cast<uint32_t>(b) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}
uint16_t F32ToBf16(float f);  // round to nearest even

}  // namespace parley
