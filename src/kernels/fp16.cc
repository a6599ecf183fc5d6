// Bit-exact scalar IEEE binary16 and bfloat16 conversions, matching F16C bit for bit (NaNs
// are quieted, payloads kept). No F16C here, so these run on any x86-64 and serve as the
// reference for the SIMD paths. Pure functions; thread-safe.
#include "kernels/fp16.h"

#include <cstdint>
#include <cstring>

namespace parley {
namespace {

uint32_t FloatBits(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  return bits;
}

float BitsFloat(uint32_t bits) {
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

// Shifts `m` right by `shift` (1..31) rounding to nearest, ties to even.
uint32_t ShiftRightRne(uint32_t m, int shift) {
  const uint32_t r = m >> shift;
  const uint32_t rem = m & ((1u << shift) - 1);
  const uint32_t half = 1u << (shift - 1);
  return (rem > half || (rem == half && (r & 1))) ? r + 1 : r;
}

}  // namespace

float F16ToF32(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  const uint32_t exp = (h >> 10) & 0x1f;
  uint32_t mant = h & 0x3ff;
  if (exp == 0x1f) {
    // Inf; NaN comes back quiet with its payload, as F16C's vcvtph2ps does.
    return BitsFloat(sign | 0x7f800000u | (mant != 0 ? 0x400000u : 0u) | (mant << 13));
  }
  if (exp != 0) return BitsFloat(sign | ((exp + 112) << 23) | (mant << 13));
  if (mant == 0) return BitsFloat(sign);
  // Subnormal half: value = mant * 2^-24; normalize into a float.
  uint32_t e = 113;  // biased float exponent of 2^-14
  while ((mant & 0x400) == 0) {
    mant <<= 1;
    --e;
  }
  return BitsFloat(sign | (e << 23) | ((mant & 0x3ff) << 13));
}

uint16_t F32ToF16(float f) {
  const uint32_t bits = FloatBits(f);
  const uint16_t sign = static_cast<uint16_t>((bits >> 16) & 0x8000);
  const int exp = static_cast<int>((bits >> 23) & 0xff);
  const uint32_t mant = bits & 0x7fffff;
  if (exp == 0xff) {
    if (mant == 0) return sign | 0x7c00;
    return sign | 0x7e00 | static_cast<uint16_t>(mant >> 13);  // quiet NaN, keep payload
  }
  const int e = exp - 112;  // half biased exponent
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    // Half subnormal (or zero): value / 2^-24, rounded. Float subnormals are far below
    // the half range and round to zero.
    if (e < -10 || exp == 0) return sign;
    const uint32_t m = mant | 0x800000;
    return sign | static_cast<uint16_t>(ShiftRightRne(m, 14 - e));
  }
  // A carry out of the mantissa bumps the exponent, and at the top gives Inf: both right.
  return sign | static_cast<uint16_t>(ShiftRightRne((static_cast<uint32_t>(e) << 23) | mant, 13));
}

uint16_t F32ToBf16(float f) {
  const uint32_t bits = FloatBits(f);
  if ((bits & 0x7fffffff) > 0x7f800000) {
    return static_cast<uint16_t>((bits >> 16) | 0x40);  // quiet NaN
  }
  return static_cast<uint16_t>(ShiftRightRne(bits, 16));
}

}  // namespace parley
