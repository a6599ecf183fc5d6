// QuantizeRow: simple round-to-nearest encoders for every supported weight type, used to
// build test models and test data. They favour clarity over the error-minimizing searches of
// llama.cpp's quantizers. Scales are rounded to their stored precision before the quants
// are computed, so dequant(quant(x)) is as close as this scheme allows. Thread-safe.
#include "kernels/quant.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "kernels/fp16.h"
#include "kernels/quant_internal.h"
#include "kernels/tensor_type.h"

namespace parley {
namespace {

using internal::kQk;
using internal::kQkK;

int Nearest(float v) { return static_cast<int>(std::lrintf(v)); }
int Clamp(int v, int lo, int hi) { return std::min(hi, std::max(lo, v)); }

// Stores `v` as a half at p and returns the value the decoder will see.
float StoreHalf(uint8_t* p, float v) {
  const uint16_t h = F32ToF16(v);
  std::memcpy(p, &h, 2);
  return F16ToF32(h);
}

float Inverse(float d) { return d != 0.0f ? 1.0f / d : 0.0f; }

// The element of x[0..n) with the largest magnitude, with its sign.
float SignedAbsMax(const float* x, int n) {
  float best = 0.0f;
  for (int i = 0; i < n; ++i) {
    if (std::fabs(x[i]) > std::fabs(best)) best = x[i];
  }
  return best;
}

void MinMax(const float* x, int n, float* lo, float* hi) {
  *lo = x[0];
  *hi = x[0];
  for (int i = 1; i < n; ++i) {
    *lo = std::min(*lo, x[i]);
    *hi = std::max(*hi, x[i]);
  }
}

// Q4_0 / Q5_0: symmetric, the largest-magnitude element maps to -2^(bits-1).
void QuantizeSymmetric(const float* x, uint8_t* b, int bits) {
  const int offset = 1 << (bits - 1);
  const float id = Inverse(StoreHalf(b, SignedAbsMax(x, kQk) / -offset));
  int q[kQk];
  for (int j = 0; j < kQk; ++j) q[j] = Clamp(Nearest(x[j] * id) + offset, 0, 2 * offset - 1);
  uint8_t* qs = b + (bits == 4 ? 2 : 6);
  uint32_t qh = 0;
  for (int j = 0; j < kQk / 2; ++j) {
    qs[j] = static_cast<uint8_t>((q[j] & 0xF) | ((q[j + kQk / 2] & 0xF) << 4));
    qh |= static_cast<uint32_t>(q[j] >> 4) << j;
    qh |= static_cast<uint32_t>(q[j + kQk / 2] >> 4) << (j + kQk / 2);
  }
  if (bits == 5) std::memcpy(b + 2, &qh, 4);
}

// Q4_1 / Q5_1: y = d * q + m with m the block minimum.
void QuantizeAffine(const float* x, uint8_t* b, int bits) {
  const int qmax = (1 << bits) - 1;
  float lo, hi;
  MinMax(x, kQk, &lo, &hi);
  const float id = Inverse(StoreHalf(b, (hi - lo) / qmax));
  const float m = StoreHalf(b + 2, lo);
  int q[kQk];
  for (int j = 0; j < kQk; ++j) q[j] = Clamp(Nearest((x[j] - m) * id), 0, qmax);
  uint8_t* qs = b + (bits == 4 ? 4 : 8);
  uint32_t qh = 0;
  for (int j = 0; j < kQk / 2; ++j) {
    qs[j] = static_cast<uint8_t>((q[j] & 0xF) | ((q[j + kQk / 2] & 0xF) << 4));
    qh |= static_cast<uint32_t>(q[j] >> 4) << j;
    qh |= static_cast<uint32_t>(q[j + kQk / 2] >> 4) << (j + kQk / 2);
  }
  if (bits == 5) std::memcpy(b + 4, &qh, 4);
}

void QuantizeQ8_0(const float* x, uint8_t* b) {
  float amax = 0.0f;
  for (int j = 0; j < kQk; ++j) amax = std::max(amax, std::fabs(x[j]));
  const float id = Inverse(StoreHalf(b, amax / 127));
  for (int j = 0; j < kQk; ++j) {
    b[2 + j] = static_cast<uint8_t>(static_cast<int8_t>(Clamp(Nearest(x[j] * id), -127, 127)));
  }
}

// Affine K-types (Q2_K, Q4_K, Q5_K): y = d*sc*q - dmin*mn per sub-block of `sub` elements,
// sc and mn unsigned with `scale_bits` bits, q in [0, qmax]. Fills q[256], sc[], mn[] and
// returns the stored d and dmin through d_out / dmin_out.
struct AffineK {
  int q[kQkK];
  int sc[16];
  int mn[16];
};

void QuantizeAffineK(const float* x, int sub, int qmax, int scale_bits, uint8_t* d_at,
                     uint8_t* dmin_at, AffineK* out) {
  const int num_sub = kQkK / sub;
  const int scale_max = (1 << scale_bits) - 1;
  float scales[16], mins[16];
  float max_scale = 0.0f, max_min = 0.0f;
  for (int s = 0; s < num_sub; ++s) {
    float lo, hi;
    MinMax(x + s * sub, sub, &lo, &hi);
    lo = std::min(lo, 0.0f);  // the offset -dmin*mn can only lower values
    scales[s] = (hi - lo) / qmax;
    mins[s] = -lo;
    max_scale = std::max(max_scale, scales[s]);
    max_min = std::max(max_min, mins[s]);
  }
  const float d = StoreHalf(d_at, max_scale / scale_max);
  const float dmin = StoreHalf(dmin_at, max_min / scale_max);
  const float id = Inverse(d), idmin = Inverse(dmin);
  for (int s = 0; s < num_sub; ++s) {
    out->sc[s] = Clamp(Nearest(scales[s] * id), 0, scale_max);
    out->mn[s] = Clamp(Nearest(mins[s] * idmin), 0, scale_max);
    const float dl = d * static_cast<float>(out->sc[s]);
    const float ml = dmin * static_cast<float>(out->mn[s]);
    const float idl = Inverse(dl);
    for (int k = 0; k < sub; ++k) {
      out->q[s * sub + k] = Clamp(Nearest((x[s * sub + k] + ml) * idl), 0, qmax);
    }
  }
}

void QuantizeQ2_K(const float* x, uint8_t* b) {
  AffineK k;
  std::memset(b, 0, internal::kQ2_KBytes);
  QuantizeAffineK(x, 16, 3, 4, b + 80, b + 82, &k);
  for (int s = 0; s < 16; ++s) b[s] = static_cast<uint8_t>(k.sc[s] | (k.mn[s] << 4));
  uint8_t* qs = b + 16;
  for (int e = 0; e < kQkK; ++e) {
    const int h = e / 128, j = (e % 128) / 32, l = e % 32;
    qs[32 * h + l] |= static_cast<uint8_t>(k.q[e] << (2 * j));
  }
}

void PackScaleMinK4(const int* sc, const int* mn, uint8_t* s) {
  std::memset(s, 0, 12);
  for (int j = 0; j < 8; ++j) {
    if (j < 4) {
      s[j] |= static_cast<uint8_t>(sc[j]);
      s[j + 4] |= static_cast<uint8_t>(mn[j]);
    } else {
      s[j + 4] = static_cast<uint8_t>((sc[j] & 0xF) | ((mn[j] & 0xF) << 4));
      s[j - 4] |= static_cast<uint8_t>((sc[j] >> 4) << 6);
      s[j] |= static_cast<uint8_t>((mn[j] >> 4) << 6);
    }
  }
}

void QuantizeQ4_K(const float* x, uint8_t* b) {
  AffineK k;
  QuantizeAffineK(x, 32, 15, 6, b, b + 2, &k);
  PackScaleMinK4(k.sc, k.mn, b + 4);
  uint8_t* qs = b + 16;
  for (int c = 0; c < 4; ++c) {
    for (int l = 0; l < 32; ++l) {
      qs[32 * c + l] = static_cast<uint8_t>(k.q[64 * c + l] | (k.q[64 * c + 32 + l] << 4));
    }
  }
}

void QuantizeQ5_K(const float* x, uint8_t* b) {
  AffineK k;
  QuantizeAffineK(x, 32, 31, 6, b, b + 2, &k);
  PackScaleMinK4(k.sc, k.mn, b + 4);
  uint8_t* qh = b + 16;
  uint8_t* qs = b + 48;
  std::memset(qh, 0, 32);
  for (int c = 0; c < 4; ++c) {
    for (int l = 0; l < 32; ++l) {
      const int lo = k.q[64 * c + l], hi = k.q[64 * c + 32 + l];
      qs[32 * c + l] = static_cast<uint8_t>((lo & 0xF) | ((hi & 0xF) << 4));
      qh[l] |= static_cast<uint8_t>(((lo >> 4) << (2 * c)) | ((hi >> 4) << (2 * c + 1)));
    }
  }
}

// Symmetric K-types (Q3_K, Q6_K): y = d*sc*q per sub-block of 16, signed sc and q. The
// largest-magnitude element of each sub-block maps to q = qmin, and the largest-magnitude
// sub-block scale to sc = sc_min. Returns the quants in q[256] and the scales in sc[16].
void QuantizeSymmetricK(const float* x, int qmin, int sc_min, uint8_t* d_at, int* q, int* sc) {
  const int qmax = -qmin - 1, sc_max = -sc_min - 1;
  float scales[16];
  for (int s = 0; s < 16; ++s) scales[s] = SignedAbsMax(x + 16 * s, 16) / qmin;
  const float d = StoreHalf(d_at, SignedAbsMax(scales, 16) / sc_min);
  const float id = Inverse(d);
  for (int s = 0; s < 16; ++s) {
    sc[s] = Clamp(Nearest(scales[s] * id), sc_min, sc_max);
    const float idl = Inverse(d * static_cast<float>(sc[s]));
    for (int k = 0; k < 16; ++k) q[16 * s + k] = Clamp(Nearest(x[16 * s + k] * idl), qmin, qmax);
  }
}

void QuantizeQ3_K(const float* x, uint8_t* b) {
  int q[kQkK], sc[16];
  std::memset(b, 0, internal::kQ3_KBytes);
  QuantizeSymmetricK(x, -4, -32, b + 108, q, sc);
  uint8_t* hmask = b;
  uint8_t* qs = b + 32;
  uint8_t* scales = b + 96;
  for (int s = 0; s < 16; ++s) {
    const int v = sc[s] + 32;
    if (s < 8) {
      scales[s] |= static_cast<uint8_t>(v & 0xF);
    } else {
      scales[s - 8] |= static_cast<uint8_t>((v & 0xF) << 4);
    }
    scales[8 + s % 4] |= static_cast<uint8_t>((v >> 4) << (2 * (s / 4)));
  }
  for (int e = 0; e < kQkK; ++e) {
    const int h = e / 128, j = (e % 128) / 32, l = e % 32;
    qs[32 * h + l] |= static_cast<uint8_t>(((q[e] + 4) & 3) << (2 * j));
    if (q[e] >= 0) hmask[l] |= static_cast<uint8_t>(1 << (4 * h + j));
  }
}

void QuantizeQ6_K(const float* x, uint8_t* b) {
  int q[kQkK], sc[16];
  std::memset(b, 0, internal::kQ6_KBytes);
  QuantizeSymmetricK(x, -32, -128, b + 208, q, sc);
  for (int s = 0; s < 16; ++s) b[192 + s] = static_cast<uint8_t>(static_cast<int8_t>(sc[s]));
  for (int n = 0; n < 2; ++n) {
    uint8_t* ql = b + 64 * n;
    uint8_t* qh = b + 128 + 32 * n;
    const int* qn = q + 128 * n;
    for (int l = 0; l < 32; ++l) {
      const int v0 = qn[l] + 32, v1 = qn[l + 32] + 32, v2 = qn[l + 64] + 32, v3 = qn[l + 96] + 32;
      ql[l] = static_cast<uint8_t>((v0 & 0xF) | ((v2 & 0xF) << 4));
      ql[l + 32] = static_cast<uint8_t>((v1 & 0xF) | ((v3 & 0xF) << 4));
      qh[l] =
          static_cast<uint8_t>((v0 >> 4) | ((v1 >> 4) << 2) | ((v2 >> 4) << 4) | ((v3 >> 4) << 6));
    }
  }
}

}  // namespace

bool QuantizeRow(TensorType type, const float* src, void* dst, int64_t n) {
  const TypeInfo* info = FindTypeInfo(static_cast<uint32_t>(type));
  if (info == nullptr || !info->supported || n % info->block_elems != 0) return false;
  uint8_t* out = static_cast<uint8_t*>(dst);
  if (type == TensorType::kF32) {
    std::memcpy(out, src, static_cast<size_t>(n) * 4);
    return true;
  }
  if (type == TensorType::kF16 || type == TensorType::kBF16) {
    for (int64_t i = 0; i < n; ++i) {
      const uint16_t h = type == TensorType::kF16 ? F32ToF16(src[i]) : F32ToBf16(src[i]);
      std::memcpy(out + 2 * i, &h, 2);
    }
    return true;
  }
  const int64_t num_blocks = n / info->block_elems;
  for (int64_t i = 0; i < num_blocks; ++i) {
    const float* x = src + i * info->block_elems;
    uint8_t* b = out + i * info->block_bytes;
    switch (type) {
      case TensorType::kQ4_0: QuantizeSymmetric(x, b, 4); break;
      case TensorType::kQ5_0: QuantizeSymmetric(x, b, 5); break;
      case TensorType::kQ4_1: QuantizeAffine(x, b, 4); break;
      case TensorType::kQ5_1: QuantizeAffine(x, b, 5); break;
      case TensorType::kQ8_0: QuantizeQ8_0(x, b); break;
      case TensorType::kQ2_K: QuantizeQ2_K(x, b); break;
      case TensorType::kQ3_K: QuantizeQ3_K(x, b); break;
      case TensorType::kQ4_K: QuantizeQ4_K(x, b); break;
      case TensorType::kQ5_K: QuantizeQ5_K(x, b); break;
      case TensorType::kQ6_K: QuantizeQ6_K(x, b); break;
      default: return false;
    }
  }
  return true;
}

}  // namespace parley
