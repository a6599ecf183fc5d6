// Scalar reference kernels for every supported weight type: block dequantization (in the
// same operation order as ggml's reference dequantizers, so results are bit-identical to
// it), dot products and the row-block matrix product. Stateless; thread-safe.
#include "kernels/quant.h"

#include <cstdint>
#include <cstring>
#include <vector>

#include "base/check.h"
#include "kernels/fp16.h"
#include "kernels/quant_internal.h"
#include "kernels/tensor_type.h"

namespace parley {
namespace {

using internal::kQk;
using internal::kQkK;
using internal::LoadHalf;

void DequantQ4_0(const uint8_t* b, float* y) {
  const float d = LoadHalf(b);
  const uint8_t* qs = b + 2;
  for (int j = 0; j < kQk / 2; ++j) {
    y[j] = static_cast<float>((qs[j] & 0xF) - 8) * d;
    y[j + kQk / 2] = static_cast<float>((qs[j] >> 4) - 8) * d;
  }
}

void DequantQ4_1(const uint8_t* b, float* y) {
  const float d = LoadHalf(b);
  const float m = LoadHalf(b + 2);
  const uint8_t* qs = b + 4;
  for (int j = 0; j < kQk / 2; ++j) {
    y[j] = static_cast<float>(qs[j] & 0xF) * d + m;
    y[j + kQk / 2] = static_cast<float>(qs[j] >> 4) * d + m;
  }
}

void DequantQ5_0(const uint8_t* b, float* y) {
  const float d = LoadHalf(b);
  const uint32_t qh = internal::LoadU32(b + 2);
  const uint8_t* qs = b + 6;
  for (int j = 0; j < kQk / 2; ++j) {
    const int lo = (qs[j] & 0xF) | (((qh >> j) & 1) << 4);
    const int hi = (qs[j] >> 4) | (((qh >> (j + 16)) & 1) << 4);
    y[j] = static_cast<float>(lo - 16) * d;
    y[j + kQk / 2] = static_cast<float>(hi - 16) * d;
  }
}

void DequantQ5_1(const uint8_t* b, float* y) {
  const float d = LoadHalf(b);
  const float m = LoadHalf(b + 2);
  const uint32_t qh = internal::LoadU32(b + 4);
  const uint8_t* qs = b + 8;
  for (int j = 0; j < kQk / 2; ++j) {
    const int lo = (qs[j] & 0xF) | (((qh >> j) & 1) << 4);
    const int hi = (qs[j] >> 4) | (((qh >> (j + 16)) & 1) << 4);
    y[j] = static_cast<float>(lo) * d + m;
    y[j + kQk / 2] = static_cast<float>(hi) * d + m;
  }
}

void DequantQ8_0(const uint8_t* b, float* y) {
  const float d = LoadHalf(b);
  const int8_t* qs = reinterpret_cast<const int8_t*>(b + 2);
  for (int j = 0; j < kQk; ++j) y[j] = static_cast<float>(qs[j]) * d;
}

void DequantQ2_K(const uint8_t* b, float* y) {
  const uint8_t* scales = b;
  const uint8_t* q = b + 16;
  const float d = LoadHalf(b + 80);
  const float dmin = LoadHalf(b + 82);
  int is = 0;
  for (int h = 0; h < 2; ++h) {  // two halves of 128 elements, 32 bytes of qs each
    for (int shift = 0; shift < 8; shift += 2) {
      for (int half16 = 0; half16 < 2; ++half16) {
        const uint8_t sc = scales[is++];
        const float dl = d * static_cast<float>(sc & 0xF);
        const float ml = dmin * static_cast<float>(sc >> 4);
        for (int l = 0; l < 16; ++l) {
          *y++ = dl * static_cast<float>((q[16 * half16 + l] >> shift) & 3) - ml;
        }
      }
    }
    q += 32;
  }
}

void DequantQ3_K(const uint8_t* b, float* y) {
  const uint8_t* hmask = b;
  const uint8_t* q = b + 32;
  int scales[16];
  internal::UnpackScalesQ3K(b + 96, scales);
  const float d = LoadHalf(b + 108);
  int is = 0;
  uint8_t m = 1;
  for (int h = 0; h < 2; ++h) {
    for (int shift = 0; shift < 8; shift += 2) {
      for (int half16 = 0; half16 < 2; ++half16) {
        const float dl = d * static_cast<float>(scales[is++]);
        for (int l = 16 * half16; l < 16 * half16 + 16; ++l) {
          const int v = ((q[l] >> shift) & 3) - ((hmask[l] & m) ? 0 : 4);
          *y++ = dl * static_cast<float>(v);
        }
      }
      m <<= 1;
    }
    q += 32;
  }
}

void DequantQ4_K(const uint8_t* b, float* y) {
  const float d = LoadHalf(b);
  const float dmin = LoadHalf(b + 2);
  const uint8_t* scales = b + 4;
  const uint8_t* q = b + 16;
  for (int c = 0; c < 4; ++c) {  // 64-element chunks: low nibbles, then high nibbles
    int sc, mn;
    internal::UnpackScaleMinK4(2 * c, scales, &sc, &mn);
    const float d1 = d * static_cast<float>(sc);
    const float m1 = dmin * static_cast<float>(mn);
    internal::UnpackScaleMinK4(2 * c + 1, scales, &sc, &mn);
    const float d2 = d * static_cast<float>(sc);
    const float m2 = dmin * static_cast<float>(mn);
    for (int l = 0; l < 32; ++l) *y++ = d1 * static_cast<float>(q[l] & 0xF) - m1;
    for (int l = 0; l < 32; ++l) *y++ = d2 * static_cast<float>(q[l] >> 4) - m2;
    q += 32;
  }
}

void DequantQ5_K(const uint8_t* b, float* y) {
  const float d = LoadHalf(b);
  const float dmin = LoadHalf(b + 2);
  const uint8_t* scales = b + 4;
  const uint8_t* qh = b + 16;
  const uint8_t* q = b + 48;
  uint8_t u1 = 1, u2 = 2;
  for (int c = 0; c < 4; ++c) {
    int sc, mn;
    internal::UnpackScaleMinK4(2 * c, scales, &sc, &mn);
    const float d1 = d * static_cast<float>(sc);
    const float m1 = dmin * static_cast<float>(mn);
    internal::UnpackScaleMinK4(2 * c + 1, scales, &sc, &mn);
    const float d2 = d * static_cast<float>(sc);
    const float m2 = dmin * static_cast<float>(mn);
    for (int l = 0; l < 32; ++l) {
      *y++ = d1 * static_cast<float>((q[l] & 0xF) + ((qh[l] & u1) ? 16 : 0)) - m1;
    }
    for (int l = 0; l < 32; ++l) {
      *y++ = d2 * static_cast<float>((q[l] >> 4) + ((qh[l] & u2) ? 16 : 0)) - m2;
    }
    q += 32;
    u1 <<= 2;
    u2 <<= 2;
  }
}

void DequantQ6_K(const uint8_t* b, float* y) {
  const float d = LoadHalf(b + 208);
  const uint8_t* ql = b;
  const uint8_t* qh = b + 128;
  const int8_t* sc = reinterpret_cast<const int8_t*>(b + 192);
  for (int n = 0; n < 2; ++n) {  // halves of 128 elements
    for (int l = 0; l < 32; ++l) {
      const int is = l / 16;
      const int q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
      const int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
      const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
      const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
      y[l] = d * static_cast<float>(sc[is + 0]) * static_cast<float>(q1);
      y[l + 32] = d * static_cast<float>(sc[is + 2]) * static_cast<float>(q2);
      y[l + 64] = d * static_cast<float>(sc[is + 4]) * static_cast<float>(q3);
      y[l + 96] = d * static_cast<float>(sc[is + 6]) * static_cast<float>(q4);
    }
    y += 128;
    ql += 64;
    qh += 32;
    sc += 8;
  }
}

const TypeInfo& InfoOf(TensorType type) {
  const TypeInfo* info = FindTypeInfo(static_cast<uint32_t>(type));
  PARLEY_CHECK(info != nullptr && info->supported)
      << "type " << TypeName(static_cast<uint32_t>(type)) << " is not a supported weight type";
  return *info;
}

}  // namespace

namespace internal {

BlockDequantFn FindBlockDequant(TensorType type) {
  switch (type) {
    case TensorType::kQ4_0: return DequantQ4_0;
    case TensorType::kQ4_1: return DequantQ4_1;
    case TensorType::kQ5_0: return DequantQ5_0;
    case TensorType::kQ5_1: return DequantQ5_1;
    case TensorType::kQ8_0: return DequantQ8_0;
    case TensorType::kQ2_K: return DequantQ2_K;
    case TensorType::kQ3_K: return DequantQ3_K;
    case TensorType::kQ4_K: return DequantQ4_K;
    case TensorType::kQ5_K: return DequantQ5_K;
    case TensorType::kQ6_K: return DequantQ6_K;
    default: return nullptr;
  }
}

const float* HalfToFloatTable() {
  static const float* const table = [] {
    float* t = new float[65536];  // lives for the whole process
    for (uint32_t h = 0; h < 65536; ++h) t[h] = F16ToF32(static_cast<uint16_t>(h));
    return t;
  }();
  return table;
}

float* ThreadScratch(ScratchSlot slot, int64_t n) {
  thread_local std::vector<float> buffers[2];
  std::vector<float>& buffer = buffers[static_cast<int>(slot)];
  if (static_cast<int64_t>(buffer.size()) < n) buffer.resize(static_cast<size_t>(n));
  return buffer.data();
}

}  // namespace internal

namespace scalar {

void DequantizeRow(TensorType type, const void* row, float* dst, int64_t n) {
  const TypeInfo& info = InfoOf(type);
  PARLEY_DCHECK(n % info.block_elems == 0);
  const uint8_t* p = static_cast<const uint8_t*>(row);
  switch (type) {
    case TensorType::kF32: std::memcpy(dst, p, static_cast<size_t>(n) * 4); return;
    case TensorType::kF16:
      for (int64_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, p + 2 * i, 2);
        dst[i] = F16ToF32(h);
      }
      return;
    case TensorType::kBF16:
      for (int64_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, p + 2 * i, 2);
        dst[i] = Bf16ToF32(h);
      }
      return;
    default: break;
  }
  const internal::BlockDequantFn fn = internal::FindBlockDequant(type);
  const int64_t num_blocks = n / info.block_elems;
  for (int64_t b = 0; b < num_blocks; ++b) {
    fn(p + b * info.block_bytes, dst + b * info.block_elems);
  }
}

// Sums in double so the reference's own rounding error is negligible next to the SIMD
// kernels' f32 error that the tests bound.
float DotRow(TensorType type, const void* row, const float* x, int64_t n) {
  const TypeInfo& info = InfoOf(type);
  PARLEY_DCHECK(n % info.block_elems == 0);
  const uint8_t* p = static_cast<const uint8_t*>(row);
  double sum = 0.0;
  if (info.block_elems == 1) {
    float w[64];
    for (int64_t i = 0; i < n; i += 64) {
      const int64_t len = n - i < 64 ? n - i : 64;
      scalar::DequantizeRow(type, p + i * info.block_bytes, w, len);
      for (int64_t k = 0; k < len; ++k) sum += static_cast<double>(w[k]) * x[i + k];
    }
    return static_cast<float>(sum);
  }
  const internal::BlockDequantFn fn = internal::FindBlockDequant(type);
  float w[kQkK];
  const int64_t num_blocks = n / info.block_elems;
  for (int64_t b = 0; b < num_blocks; ++b) {
    fn(p + b * info.block_bytes, w);
    const float* xb = x + b * info.block_elems;
    for (int k = 0; k < info.block_elems; ++k) sum += static_cast<double>(w[k]) * xb[k];
  }
  return static_cast<float>(sum);
}

void MatMulRows(const MatMulArgs& args, int64_t row_begin, int64_t row_end) {
  const char* w = static_cast<const char*>(args.w);
  for (int64_t r = row_begin; r < row_end; ++r) {
    const void* row = w + r * args.w_row_bytes;
    for (int64_t t = 0; t < args.num_tokens; ++t) {
      args.y[t * args.y_stride + r] =
          scalar::DotRow(args.type, row, args.x + t * args.x_stride, args.n);
    }
  }
}

}  // namespace scalar
}  // namespace parley
