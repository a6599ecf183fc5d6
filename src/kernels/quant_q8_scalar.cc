// Scalar reference of the int8-activation path: activation quantizers bit-identical to
// ggml's (x86 quantize_row_q8_0 / q8_1, quantize_row_q8_K_ref) and integer block dot
// products of every supported weight type with them. Weight quants are decoded to int8 in
// element order, dotted with the activation quants in int32 per 16 or 32 elements, and
// scaled in f32 per block. Stateless; thread-safe.
#include <cmath>
#include <cstdint>
#include <cstring>

#include "base/check.h"
#include "kernels/fp16.h"
#include "kernels/quant.h"
#include "kernels/quant_internal.h"
#include "kernels/quant_q8_internal.h"
#include "kernels/tensor_type.h"

namespace parley {
namespace {

using internal::kQk;
using internal::kQkK;
using internal::LoadHalf;

// Round half to even for |v| < 2^22 (the addition rounds), as ggml's nearest_int; the
// AVX quantizers' _mm256_round_ps(_MM_ROUND_NEAREST) gives the same integers.
inline int NearestInt(float v) {
  const float t = v + 12582912.f;
  int32_t i;
  std::memcpy(&i, &t, 4);
  return (i & 0x007fffff) - 0x00400000;
}

void QuantizeQ8_0Or1(const float* x, uint8_t* dst, int64_t n, bool with_sum) {
  const int bytes = with_sum ? internal::kQ8_1Bytes : internal::kQ8_0ActBytes;
  const int qs_offset = with_sum ? 4 : 2;
  for (int64_t b = 0; b < n / kQk; ++b, x += kQk, dst += bytes) {
    float amax = 0.0f;
    for (int j = 0; j < kQk; ++j) {
      const float a = std::fabs(x[j]);
      amax = a > amax ? a : amax;
    }
    const float d = amax / 127.f;
    const float id = amax != 0.0f ? 127.f / amax : 0.0f;
    int sum = 0;
    int8_t* qs = reinterpret_cast<int8_t*>(dst + qs_offset);
    for (int j = 0; j < kQk; ++j) {
      int q = NearestInt(x[j] * id);
      q = q > 127 ? 127 : (q < -128 ? -128 : q);  // vpacksswb saturation (never reached)
      qs[j] = static_cast<int8_t>(q);
      sum += q;
    }
    const uint16_t dh = F32ToF16(d);
    std::memcpy(dst, &dh, 2);
    if (with_sum) {
      const uint16_t sh = F32ToF16(d * static_cast<float>(sum));
      std::memcpy(dst + 2, &sh, 2);
    }
  }
}

void QuantizeQ8_K(const float* x, uint8_t* dst, int64_t n) {
  for (int64_t b = 0; b < n / kQkK; ++b, x += kQkK, dst += internal::kQ8_KBytes) {
    float max = 0.0f, amax = 0.0f;
    for (int j = 0; j < kQkK; ++j) {
      const float a = std::fabs(x[j]);
      if (a > amax) {
        amax = a;
        max = x[j];
      }
    }
    int8_t* qs = reinterpret_cast<int8_t*>(dst + internal::kQ8_KQs);
    int16_t bsums[16];
    float d = 0.0f;
    if (amax == 0.0f) {
      std::memset(qs, 0, kQkK);
      std::memset(bsums, 0, sizeof(bsums));
    } else {
      const float iscale = -127.f / max;
      for (int j = 0; j < kQkK; ++j) {
        const int v = NearestInt(iscale * x[j]);
        qs[j] = static_cast<int8_t>(v < 127 ? v : 127);
      }
      for (int g = 0; g < 16; ++g) {
        int sum = 0;
        for (int l = 0; l < 16; ++l) sum += qs[16 * g + l];
        bsums[g] = static_cast<int16_t>(sum);
      }
      d = 1 / iscale;
    }
    std::memcpy(dst, &d, 4);
    std::memcpy(dst + internal::kQ8_KBsums, bsums, sizeof(bsums));
  }
}

inline int32_t DotI8(const int8_t* a, const int8_t* b, int len) {
  int32_t s = 0;
  for (int i = 0; i < len; ++i) s += static_cast<int32_t>(a[i]) * b[i];
  return s;
}

// ---- Weight decoders: quants of one block in element order ---------------------------------

void QuantsQ4(const uint8_t* qs, int offset, int8_t* q) {
  for (int j = 0; j < kQk / 2; ++j) {
    q[j] = static_cast<int8_t>((qs[j] & 0xF) - offset);
    q[j + kQk / 2] = static_cast<int8_t>((qs[j] >> 4) - offset);
  }
}

void QuantsQ5(const uint8_t* qh_p, const uint8_t* qs, int offset, int8_t* q) {
  const uint32_t qh = internal::LoadU32(qh_p);
  for (int j = 0; j < kQk / 2; ++j) {
    q[j] = static_cast<int8_t>(((qs[j] & 0xF) | (((qh >> j) & 1) << 4)) - offset);
    q[j + kQk / 2] = static_cast<int8_t>(((qs[j] >> 4) | (((qh >> (j + 16)) & 1) << 4)) - offset);
  }
}

// Legacy types: sum over blocks of d_w*d_x*sumi (+ m_w*s_x for the affine ones).
float DotLegacy(TensorType type, const uint8_t* w, const uint8_t* x, int64_t nb) {
  float sum = 0.0f;
  int8_t q[kQk];
  const bool affine = type == TensorType::kQ4_1 || type == TensorType::kQ5_1;
  const int x_bytes = affine ? internal::kQ8_1Bytes : internal::kQ8_0ActBytes;
  const int x_qs = affine ? 4 : 2;
  const int w_bytes = FindTypeInfo(static_cast<uint32_t>(type))->block_bytes;
  for (int64_t i = 0; i < nb; ++i, w += w_bytes, x += x_bytes) {
    const int8_t* qx = reinterpret_cast<const int8_t*>(x + x_qs);
    switch (type) {
      case TensorType::kQ4_0: QuantsQ4(w + 2, 8, q); break;
      case TensorType::kQ4_1: QuantsQ4(w + 4, 0, q); break;
      case TensorType::kQ5_0: QuantsQ5(w + 2, w + 6, 16, q); break;
      case TensorType::kQ5_1: QuantsQ5(w + 4, w + 8, 0, q); break;
      case TensorType::kQ8_0: std::memcpy(q, w + 2, kQk); break;
      default: PARLEY_CHECK(false); break;
    }
    const int32_t sumi = DotI8(q, qx, kQk);
    sum += LoadHalf(w) * LoadHalf(x) * static_cast<float>(sumi);
    if (affine) sum += LoadHalf(w + 2) * LoadHalf(x + 2);
  }
  return sum;
}

// K-types: decodes the block's quants (element order) and its 16 per-16-element scales and
// mins; returns false for the types without mins (Q3_K, Q6_K).
bool DecodeK(TensorType type, const uint8_t* b, int8_t* q, int* sc, int* mn) {
  switch (type) {
    case TensorType::kQ2_K: {
      const uint8_t* qs = b + 16;
      int8_t* out = q;
      for (int h = 0; h < 2; ++h, qs += 32) {
        for (int shift = 0; shift < 8; shift += 2) {
          for (int l = 0; l < 32; ++l) *out++ = static_cast<int8_t>((qs[l] >> shift) & 3);
        }
      }
      for (int j = 0; j < 16; ++j) {
        sc[j] = b[j] & 0xF;
        mn[j] = b[j] >> 4;
      }
      return true;
    }
    case TensorType::kQ3_K: {
      const uint8_t* hmask = b;
      const uint8_t* qs = b + 32;
      int8_t* out = q;
      uint8_t m = 1;
      for (int h = 0; h < 2; ++h, qs += 32) {
        for (int shift = 0; shift < 8; shift += 2, m <<= 1) {
          for (int l = 0; l < 32; ++l) {
            *out++ = static_cast<int8_t>(((qs[l] >> shift) & 3) - ((hmask[l] & m) ? 0 : 4));
          }
        }
      }
      internal::UnpackScalesQ3K(b + 96, sc);
      return false;
    }
    case TensorType::kQ4_K:
    case TensorType::kQ5_K: {
      const bool five = type == TensorType::kQ5_K;
      const uint8_t* qh = b + 16;
      const uint8_t* qs = b + (five ? 48 : 16);
      for (int c = 0; c < 4; ++c, qs += 32) {
        for (int l = 0; l < 32; ++l) {
          int lo = qs[l] & 0xF, hi = qs[l] >> 4;
          if (five) {
            lo += ((qh[l] >> (2 * c)) & 1) << 4;
            hi += ((qh[l] >> (2 * c + 1)) & 1) << 4;
          }
          q[64 * c + l] = static_cast<int8_t>(lo);
          q[64 * c + 32 + l] = static_cast<int8_t>(hi);
        }
      }
      for (int j = 0; j < 8; ++j) {
        int s, m;
        internal::UnpackScaleMinK4(j, b + 4, &s, &m);
        sc[2 * j] = sc[2 * j + 1] = s;
        mn[2 * j] = mn[2 * j + 1] = m;
      }
      return true;
    }
    case TensorType::kQ6_K: {
      const uint8_t* ql = b;
      const uint8_t* qh = b + 128;
      for (int h = 0; h < 2; ++h, ql += 64, qh += 32) {
        int8_t* y = q + 128 * h;
        for (int l = 0; l < 32; ++l) {
          y[l] = static_cast<int8_t>(((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32);
          y[l + 32] = static_cast<int8_t>(((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32);
          y[l + 64] = static_cast<int8_t>(((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32);
          y[l + 96] = static_cast<int8_t>(((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32);
        }
      }
      const int8_t* s = reinterpret_cast<const int8_t*>(b + 192);
      for (int j = 0; j < 16; ++j) sc[j] = s[j];
      return false;
    }
    default: PARLEY_CHECK(false); return false;
  }
}

// Offsets of d and dmin (dmin < 0: none) in a K block.
void KScaleOffsets(TensorType type, int* d_off, int* dmin_off) {
  switch (type) {
    case TensorType::kQ2_K: *d_off = 80; *dmin_off = 82; return;
    case TensorType::kQ3_K: *d_off = 108; *dmin_off = -1; return;
    case TensorType::kQ4_K:
    case TensorType::kQ5_K: *d_off = 0; *dmin_off = 2; return;
    case TensorType::kQ6_K: *d_off = 208; *dmin_off = -1; return;
    default: PARLEY_CHECK(false);
  }
}

// Per block: d_x*d_w * sum_j sc_j * (q.x over group j) - d_x*dmin_w * sum_j mn_j * bsum_j.
float DotK(TensorType type, const uint8_t* w, const uint8_t* x, int64_t nb) {
  const int w_bytes = FindTypeInfo(static_cast<uint32_t>(type))->block_bytes;
  int d_off, dmin_off;
  KScaleOffsets(type, &d_off, &dmin_off);
  float sum = 0.0f;
  int8_t q[kQkK];
  int sc[16], mn[16];
  for (int64_t i = 0; i < nb; ++i, w += w_bytes, x += internal::kQ8_KBytes) {
    const bool has_min = DecodeK(type, w, q, sc, mn);
    float dx;
    std::memcpy(&dx, x, 4);
    const int8_t* qx = reinterpret_cast<const int8_t*>(x + internal::kQ8_KQs);
    int32_t sumi = 0;
    for (int j = 0; j < 16; ++j) sumi += sc[j] * DotI8(q + 16 * j, qx + 16 * j, 16);
    sum += dx * LoadHalf(w + d_off) * static_cast<float>(sumi);
    if (has_min) {
      int16_t bsums[16];
      std::memcpy(bsums, x + internal::kQ8_KBsums, sizeof(bsums));
      int32_t summ = 0;
      for (int j = 0; j < 16; ++j) summ += mn[j] * bsums[j];
      sum -= dx * LoadHalf(w + dmin_off) * static_cast<float>(summ);
    }
  }
  return sum;
}

}  // namespace

TensorType ActivationTypeFor(TensorType weight_type) {
  switch (weight_type) {
    case TensorType::kQ4_0:
    case TensorType::kQ5_0:
    case TensorType::kQ8_0: return TensorType::kQ8_0;
    case TensorType::kQ4_1:
    case TensorType::kQ5_1: return TensorType::kQ8_1;
    case TensorType::kQ2_K:
    case TensorType::kQ3_K:
    case TensorType::kQ4_K:
    case TensorType::kQ5_K:
    case TensorType::kQ6_K: return TensorType::kQ8_K;
    default: return TensorType::kF32;
  }
}

namespace scalar {

void QuantizeActivationRow(TensorType act_type, const float* x, void* dst, int64_t n) {
  uint8_t* out = static_cast<uint8_t*>(dst);
  switch (act_type) {
    case TensorType::kQ8_0:
      PARLEY_CHECK(n % kQk == 0) << n;
      QuantizeQ8_0Or1(x, out, n, false);
      return;
    case TensorType::kQ8_1:
      PARLEY_CHECK(n % kQk == 0) << n;
      QuantizeQ8_0Or1(x, out, n, true);
      return;
    case TensorType::kQ8_K:
      PARLEY_CHECK(n % kQkK == 0) << n;
      QuantizeQ8_K(x, out, n);
      return;
    default:
      PARLEY_CHECK(false) << "not an activation type: " << TypeName(static_cast<uint32_t>(act_type));
  }
}

float DotRowQ8(TensorType weight_type, const void* row, const void* xq, int64_t n) {
  const uint8_t* w = static_cast<const uint8_t*>(row);
  const uint8_t* x = static_cast<const uint8_t*>(xq);
  switch (weight_type) {
    case TensorType::kQ4_0:
    case TensorType::kQ4_1:
    case TensorType::kQ5_0:
    case TensorType::kQ5_1:
    case TensorType::kQ8_0:
      PARLEY_DCHECK(n % kQk == 0);
      return DotLegacy(weight_type, w, x, n / kQk);
    case TensorType::kQ2_K:
    case TensorType::kQ3_K:
    case TensorType::kQ4_K:
    case TensorType::kQ5_K:
    case TensorType::kQ6_K:
      PARLEY_DCHECK(n % kQkK == 0);
      return DotK(weight_type, w, x, n / kQkK);
    default:
      PARLEY_CHECK(false) << "no int8 path for " << TypeName(static_cast<uint32_t>(weight_type));
      return 0.0f;
  }
}

void MatMulRowsQ8(const MatMulQ8Args& a, int64_t row_begin, int64_t row_end) {
  const char* w = static_cast<const char*>(a.w);
  const char* x = static_cast<const char*>(a.xq);
  for (int64_t r = row_begin; r < row_end; ++r) {
    for (int64_t t = 0; t < a.num_tokens; ++t) {
      a.y[t * a.y_stride + r] =
          scalar::DotRowQ8(a.type, w + r * a.w_row_bytes, x + t * a.xq_row_bytes, a.n);
    }
  }
}

}  // namespace scalar
}  // namespace parley
