// Packed products at the file's bits (packed_matmul.h): the repack from GGUF blocks, the
// activations, the scalar reference and the dispatch.
#include "kernels/packed_matmul.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "base/check.h"
#include "kernels/cpu.h"
#include "kernels/fp16.h"
#include "kernels/int8_matmul.h"
#include "kernels/quant_internal.h"

namespace parley {

using internal::LoadHalf;

bool CanPack(TensorType type) {
  switch (type) {
    case TensorType::kQ4_0:
    case TensorType::kQ4_1:
    case TensorType::kQ4_K:
    case TensorType::kQ5_0:
    case TensorType::kQ5_K:
    case TensorType::kQ6_K:
    case TensorType::kQ8_0: return true;
    default: return false;
  }
}

PackFormat PackFormatFor(TensorType type) {
  switch (type) {
    case TensorType::kQ4_0:
    case TensorType::kQ4_1: return PackFormat{4, 32, true, true};
    case TensorType::kQ4_K: return PackFormat{4, 32, false, true};
    case TensorType::kQ5_0: return PackFormat{5, 32, true, true};
    case TensorType::kQ8_0: return PackFormat{8, 32, true, false};
    case TensorType::kQ5_K: return PackFormat{5, 32, false, true};
    case TensorType::kQ6_K: return PackFormat{8, 16, false, false};
    default: PARLEY_CHECK(false) << "type " << TypeName(static_cast<uint32_t>(type)) << " cannot be packed";
  }
  return {};
}

namespace {

// One row of the file decoded into codes and per-sub-block scales and mins, such that
// value = d * code + m equals the scalar dequantizer's value (quant_scalar.cc), operation
// for operation where it matters: the K-types' d * scale and dmin * min are the same f32
// products, and Q6_K's (d * scale) * q is its evaluation order.
struct DecodedRow {
  std::vector<int> code;   // [cols]
  std::vector<float> d;    // [cols / sub]
  std::vector<float> m;    // [cols / 32] (has_min)
};

void DecodeRow(TensorType type, const uint8_t* row, int64_t cols, DecodedRow* out) {
  out->code.assign(cols, 0);
  out->d.assign(cols / PackFormatFor(type).sub, 0.0f);
  out->m.assign(cols / kPackBlock, 0.0f);
  int* q = out->code.data();
  float* d = out->d.data();
  float* m = out->m.data();
  switch (type) {
    case TensorType::kQ4_0:
    case TensorType::kQ4_1: {
      const bool q40 = type == TensorType::kQ4_0;
      const int bytes = q40 ? internal::kQ4_0Bytes : internal::kQ4_1Bytes;
      for (int64_t b = 0; b < cols / 32; ++b, row += bytes) {
        d[b] = LoadHalf(row);
        m[b] = q40 ? -8.0f * d[b] : LoadHalf(row + 2);
        const uint8_t* qs = row + (q40 ? 2 : 4);
        for (int j = 0; j < 16; ++j) {
          q[32 * b + j] = qs[j] & 0xF;
          q[32 * b + j + 16] = qs[j] >> 4;
        }
      }
      return;
    }
    case TensorType::kQ5_0:  // unsigned codes, the offset -16 as a min of -16d
      for (int64_t b = 0; b < cols / 32; ++b, row += internal::kQ5_0Bytes) {
        d[b] = LoadHalf(row);
        m[b] = -16.0f * d[b];
        const uint32_t qh = internal::LoadU32(row + 2);
        const uint8_t* qs = row + 6;
        for (int j = 0; j < 16; ++j) {
          q[32 * b + j] = (qs[j] & 0xF) | (((qh >> j) & 1) << 4);
          q[32 * b + j + 16] = (qs[j] >> 4) | (((qh >> (j + 16)) & 1) << 4);
        }
      }
      return;
    case TensorType::kQ8_0:
      for (int64_t b = 0; b < cols / 32; ++b, row += internal::kQ8_0Bytes) {
        d[b] = LoadHalf(row);
        for (int j = 0; j < 32; ++j) q[32 * b + j] = static_cast<int8_t>(row[2 + j]);
      }
      return;
    case TensorType::kQ4_K:
    case TensorType::kQ5_K: {
      const bool five = type == TensorType::kQ5_K;
      const int bytes = five ? internal::kQ5_KBytes : internal::kQ4_KBytes;
      for (int64_t s = 0; s < cols / 256; ++s, row += bytes) {
        const float dd = LoadHalf(row), dmin = LoadHalf(row + 2);
        const uint8_t* qh = row + 16;
        const uint8_t* qs = row + (five ? 48 : 16);
        for (int sb = 0; sb < 8; ++sb) {  // sub-block sb: nibbles (sb odd: high) of qs[32 * (sb / 2) ...]
          int sc, mn;
          internal::UnpackScaleMinK4(sb, row + 4, &sc, &mn);
          d[8 * s + sb] = dd * static_cast<float>(sc);
          m[8 * s + sb] = -(dmin * static_cast<float>(mn));
          for (int l = 0; l < 32; ++l) {
            const uint8_t byte = qs[32 * (sb / 2) + l];
            int v = sb % 2 == 0 ? (byte & 0xF) : (byte >> 4);
            if (five && (qh[l] >> sb) & 1) v += 16;
            q[256 * s + 32 * sb + l] = v;
          }
        }
      }
      return;
    }
    case TensorType::kQ6_K:
      for (int64_t s = 0; s < cols / 256; ++s, row += internal::kQ6_KBytes) {
        const float dd = LoadHalf(row + 208);
        const int8_t* sc = reinterpret_cast<const int8_t*>(row + 192);
        for (int k = 0; k < 16; ++k) d[16 * s + k] = dd * static_cast<float>(sc[k]);
        for (int n = 0; n < 2; ++n) {  // halves of 128: ql[64 n ...], qh[32 n ...]
          const uint8_t* ql = row + 64 * n;
          const uint8_t* qh = row + 128 + 32 * n;
          int* y = q + 256 * s + 128 * n;
          for (int l = 0; l < 32; ++l) {
            y[l] = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
            y[l + 32] = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
            y[l + 64] = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
            y[l + 96] = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
          }
        }
      }
      return;
    default: PARLEY_CHECK(false) << "cannot pack " << TypeName(static_cast<uint32_t>(type));
  }
}

// Where column c (0..31) of a block sits among the block's 32 activation values.
inline int PairSlot(int c) {
  const int l = c / 8, jj = c % 8;
  return 2 * (4 * l + jj % 4) + jj / 4;
}

// Byte offset, within a panel block's codes, of row lane `lane`, column c; for nibbles,
// *shift is the nibble's bit position in that byte.
inline int CodeOffset(const PackFormat& f, int lane, int c, int* shift) {
  const int l = c / 8, jj = c % 8;
  if (f.code_bits <= 5) {
    const int h = jj / 4, j = jj % 4;  // 16-bit half h, nibble j
    *shift = 4 * (j % 2);
    return 64 * l + 4 * lane + 2 * h + j / 2;
  }
  *shift = 0;
  const int j = jj % 4, upper = jj / 4;  // bytes (8l+j0, 8l+j0+1, 8l+j0+4, 8l+j0+5), j0 = j & ~1
  return 64 * (2 * l + j / 2) + 4 * lane + 2 * upper + j % 2;
}

// Where a panel block keeps row lane `lane`'s scale of sub-block s (s < f.subs()) or its
// min (s == f.subs()).
inline int64_t ScaleOffset(const PackFormat& f, int64_t s, int lane) {
  return f.code_bytes() + (s * kPackPanel + lane) * f.scale_bytes();
}

inline void StoreScale(const PackFormat& f, uint8_t* at, float v) {
  if (f.f16_scales) {
    const uint16_t h = F32ToF16(v);
    std::memcpy(at, &h, 2);
  } else {
    std::memcpy(at, &v, 4);
  }
}

inline float LoadScale(const PackFormat& f, const uint8_t* at) {
  if (f.f16_scales) return LoadHalf(at);
  float v;
  std::memcpy(&v, at, 4);
  return v;
}

// The high bit of a 5-bit code: byte offset within the panel block and bit position.
inline int HighBitOffset(int lane, int c, int* bit) {
  const int l = c / 8, jj = c % 8, k = 4 * l + jj % 4;
  *bit = k % 8;
  return kPackPanel * kPackBlock / 2 + 4 * lane + 2 * (jj / 4) + k / 8;
}

inline int LoadCode(const PackFormat& f, const uint8_t* blk, int lane, int c) {
  int shift;
  const uint8_t byte = blk[CodeOffset(f, lane, c, &shift)];
  if (f.code_bits == 8) return static_cast<int8_t>(byte);
  int code = (byte >> shift) & 0xF;
  if (f.code_bits == 5) {
    int bit;
    code |= ((blk[HighBitOffset(lane, c, &bit)] >> bit) & 1) << 4;
  }
  return code;
}

}  // namespace

void InitPackedMatrix(TensorType type, int64_t rows, int64_t cols, PackedMatrix* out) {
  const TypeInfo* info = FindTypeInfo(static_cast<uint32_t>(type));
  PARLEY_CHECK(CanPack(type) && info != nullptr && cols % info->block_elems == 0)
      << "cannot pack a " << TypeName(static_cast<uint32_t>(type)) << " matrix of " << cols << " columns";
  out->type = type;
  out->format = PackFormatFor(type);
  out->rows = rows;
  out->cols = cols;
  out->blocks = cols / kPackBlock;
  out->panels = (rows + kPackPanel - 1) / kPackPanel;
  out->data.assign(static_cast<size_t>(out->panels * out->blocks * out->format.block_bytes()), 0);
}

void PackRows(const uint8_t* data, size_t row_bytes, int64_t row_begin, int64_t row_end, PackedMatrix* out) {
  const PackFormat& f = out->format;
  DecodedRow row;
  for (int64_t r = row_begin; r < row_end; ++r) {
    DecodeRow(out->type, data + r * row_bytes, out->cols, &row);
    const int lane = static_cast<int>(r % kPackPanel);
    for (int64_t b = 0; b < out->blocks; ++b) {
      uint8_t* blk = out->data.data() + (r / kPackPanel * out->blocks + b) * f.block_bytes();
      for (int c = 0; c < kPackBlock; ++c) {
        int shift;
        uint8_t& byte = blk[CodeOffset(f, lane, c, &shift)];
        const int v = row.code[static_cast<size_t>(b * kPackBlock + c)];
        if (f.code_bits <= 5) {
          byte = static_cast<uint8_t>((byte & ~(0xF << shift)) | ((v & 0xF) << shift));
          if (f.code_bits == 5) {
            int bit;
            uint8_t& high = blk[HighBitOffset(lane, c, &bit)];
            high = static_cast<uint8_t>((high & ~(1 << bit)) | (((v >> 4) & 1) << bit));
          }
        } else {
          byte = static_cast<uint8_t>(static_cast<int8_t>(v));
        }
      }
      for (int64_t s = 0; s < f.subs(); ++s) {
        StoreScale(f, blk + ScaleOffset(f, s, lane), row.d[static_cast<size_t>(b * f.subs() + s)]);
      }
      if (f.has_min) StoreScale(f, blk + ScaleOffset(f, f.subs(), lane), row.m[static_cast<size_t>(b)]);
    }
  }
}

float RepackedValue(const PackedMatrix& w, int64_t r, int64_t i) {
  const PackFormat& f = w.format;
  const uint8_t* blk = w.block(r / kPackPanel, i / kPackBlock);
  const int lane = static_cast<int>(r % kPackPanel), c = static_cast<int>(i % kPackBlock);
  const float d = LoadScale(f, blk + ScaleOffset(f, c / f.sub, lane));
  const float code = static_cast<float>(LoadCode(f, blk, lane, c));
  if (!f.has_min) return d * code;
  return d * code + LoadScale(f, blk + ScaleOffset(f, f.subs(), lane));
}

void SizePackedActivations(int64_t cols, int64_t num_tokens, PackedActivations* out) {
  PARLEY_CHECK(cols % kPackBlock == 0) << "packed products need a multiple of 32 columns";
  out->num_tokens = num_tokens;
  out->blocks = cols / kPackBlock;
  out->q.resize(static_cast<size_t>(num_tokens * cols));
  out->scale.resize(static_cast<size_t>(num_tokens * out->blocks));
  out->sum.resize(out->scale.size());
}

void QuantizePackedActivations(const float* x, int64_t cols, int64_t t_begin, int64_t t_end, PackedActivations* out) {
  for (int64_t t = t_begin; t < t_end; ++t) {
    for (int64_t b = 0; b < out->blocks; ++b) {
      int16_t r[kI8HeadBlock];
      const float xs = QuantizeBlockI16(x + t * cols + b * kPackBlock, kPackBlock, r);
      int16_t* q = out->q.data() + t * cols + b * kPackBlock;
      int32_t sum = 0;
      for (int c = 0; c < kPackBlock; ++c) {
        q[PairSlot(c)] = r[c];
        sum += r[c];
      }
      out->scale[static_cast<size_t>(t * out->blocks + b)] = xs;
      out->sum[static_cast<size_t>(t * out->blocks + b)] = xs * static_cast<float>(sum);
    }
  }
}

namespace scalar {
void MatMulRowsPacked(const PackedMatMulArgs& a, int64_t row_begin, int64_t row_end) {
  const PackedMatrix& w = *a.w;
  const PackFormat& f = w.format;
  const int64_t cols = w.blocks * kPackBlock;
  for (int64_t t = 0; t < a.x->num_tokens; ++t) {
    for (int64_t r = row_begin; r < row_end; ++r) {
      const int lane = static_cast<int>(r % kPackPanel);
      float acc = 0.0f;
      for (int64_t b = 0; b < w.blocks; ++b) {
        const uint8_t* blk = w.block(r / kPackPanel, b);
        const int16_t* xq = a.x->q.data() + t * cols + b * kPackBlock;
        const float xs = a.x->scale[static_cast<size_t>(t * w.blocks + b)];
        for (int s = 0; s < f.subs(); ++s) {
          int32_t sum = 0;
          for (int c = s * f.sub; c < (s + 1) * f.sub; ++c) sum += LoadCode(f, blk, lane, c) * xq[PairSlot(c)];
          const float d = LoadScale(f, blk + ScaleOffset(f, s, lane));
          acc = std::fma(static_cast<float>(sum), d * xs, acc);
        }
        if (f.has_min) {
          const float m = LoadScale(f, blk + ScaleOffset(f, f.subs(), lane));
          acc = std::fma(m, a.x->sum[static_cast<size_t>(t * w.blocks + b)], acc);
        }
      }
      a.y[t * a.y_stride + r] = acc;
    }
  }
}
}  // namespace scalar

void MatMulRowsPacked(const PackedMatMulArgs& a, int64_t row_begin, int64_t row_end) {
  if (Int8UsesVnni()) return vnni::MatMulRowsPacked(a, row_begin, row_end);
  if (ActiveSimdLevel() >= SimdLevel::kAvx2) return avx2::MatMulRowsPacked(a, row_begin, row_end);
  scalar::MatMulRowsPacked(a, row_begin, row_end);
}

}  // namespace parley
