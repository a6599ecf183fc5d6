// Products at the file's own bits (`--weights packed`, issue 20): a GGUF weight of type
// Q4_0, Q4_1, Q4_K, Q5_0, Q5_K, Q6_K or Q8_0 is repacked at load into panels of 16 rows
// whose integer codes are the file's own, with the file's scales (and mins) per block of
// 32 columns (16 for Q6_K). Nothing is rounded: for every weight
//   w = d * code + m      (d, m: the block's scale and min; m = 0 where the type has none)
// reproduces the file's dequantized value exactly (RepackedValue; a test checks every type
// against the scalar dequantizer). Decode reads about the file's bytes per token instead of
// the int8 path's one byte per weight.
//
// Codes are 4 bits (Q4_0, Q4_1, Q4_K: nibbles), 5 bits (Q5_0, Q5_K: nibbles plus a plane of
// high bits) or 8 bits (Q6_K, Q8_0: one byte each; 6-bit codes are not packed tighter yet).
// Scales and mins are f16 where the file's are (Q4_0, Q4_1, Q5_0, Q8_0) and f32 where they
// are a product of two file fields (K-types: d * sub-block scale, exact in f32).
//
// Activations are 16-bit, one scale per 32 values (the int8 path's 16-bit activations:
// max |x| / 32767, int8_matmul.h), so the products lose nothing that matters against the
// exact path. For token t, row r and block b:
//   S    = sum over the block of code[r][i] * x16[t][i]           (exact int32)
//   acc  = fma(float(S), d[r][b] * xs[t][b], acc)                 (Q6_K: per half, S0 then S1)
//   acc  = fma(m[r][b], sx[t][b], acc)   where sx = xs * float(sum of x16 over the block)
// in block order; y = acc. AVX-512 VNNI (vpdpwssd), AVX2 (vpmaddwd) and scalar compute
// exactly these operations: bit-identical, and independent of the batch.
//
// Layout: panel p, block b is one contiguous run of bytes: the 16 rows' codes, then their
// scales, then their mins. Codes come in 64-byte lines of 16 row lanes x 4 bytes (one
// AVX-512 vector); the activations of a block are 16 pairs of int16, pair k = 4l + j
// holding (x[8l + j], x[8l + j + 4]) (l = 0..3, j = 0..3), so that one 32-bit broadcast
// meets one pair of codes in each row lane:
//   nibbles: line l, row lane: 16-bit half h, nibble j holds column 8l + 4h + j; masking
//            nibble j of each half gives the int16 pair for pair k = 4l + j;
//   5 bits:  the nibbles' 4 lines, then a fifth line of high bits: row lane, 16-bit half h,
//            bit k = 4l + j holds the high bit of column 8l + 4h + j;
//   bytes:   line 2l + j/2 (j = 0, 2), row lane: bytes (col 8l+j, 8l+j+1, 8l+j+4, 8l+j+5);
//            the even bytes sign-extended are pair 4l + j, the odd ones pair 4l + j + 1.
// Stateless; thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "kernels/tensor_type.h"

namespace parley {

constexpr int64_t kPackBlock = 32;  // columns per activation scale and per panel block
constexpr int64_t kPackPanel = 16;  // rows per panel

// How one packed matrix stores a block's codes and scales.
struct PackFormat {
  int code_bits = 4;        // 4 (nibbles), 5 (nibbles + high bits) or 8 (signed bytes)
  int sub = 32;             // columns per weight scale: 32, or 16 (Q6_K)
  bool f16_scales = true;   // scales and mins as f16 (else f32)
  bool has_min = false;     // a min per sub-block (Q4_0's offset -8 is a min of -8d, Q5_0's -16d)

  int64_t code_bytes() const { return kPackPanel * kPackBlock * code_bits / 8; }
  int64_t scale_bytes() const { return f16_scales ? 2 : 4; }
  int64_t subs() const { return kPackBlock / sub; }
  // Bytes of one panel block: codes, then subs() x 16 scales, then 16 mins (has_min).
  int64_t block_bytes() const {
    return code_bytes() + kPackPanel * scale_bytes() * (subs() + (has_min ? 1 : 0));
  }
};

// Whether `type` can be packed, and how.
bool CanPack(TensorType type);
PackFormat PackFormatFor(TensorType type);  // REQUIRES: CanPack(type)

struct PackedMatrix {
  TensorType type = TensorType::kF32;  // the file's type it was packed from
  PackFormat format;
  int64_t rows = 0, cols = 0;
  int64_t blocks = 0;  // cols / kPackBlock
  int64_t panels = 0;  // ceil(rows / kPackPanel); rows past `rows` are zero
  std::vector<uint8_t> data;  // [panels][blocks][format.block_bytes()]

  const uint8_t* block(int64_t panel, int64_t b) const {
    return data.data() + (panel * blocks + b) * format.block_bytes();
  }
  int64_t bytes() const { return static_cast<int64_t>(data.size()); }
};

// Sizes `out` for a rows x cols matrix of `type` (all zero). REQUIRES: CanPack(type) and
// cols a multiple of the type's block.
void InitPackedMatrix(TensorType type, int64_t rows, int64_t cols, PackedMatrix* out);
// Repacks rows [row_begin, row_end) of a GGUF weight (rows `row_bytes` apart) into `out`.
// REQUIRES: row_begin a multiple of kPackPanel or row_end == out->rows... any ranges that
// do not share a panel may be packed concurrently (ranges split at multiples of 16 rows).
void PackRows(const uint8_t* data, size_t row_bytes, int64_t row_begin, int64_t row_end, PackedMatrix* out);
// The value of weight (r, i) as the products see it: d * code + m.
float RepackedValue(const PackedMatrix& w, int64_t r, int64_t i);

// One product's input: 16-bit activations in pair order, with per-block scales and sums.
struct PackedActivations {
  int64_t num_tokens = 0, blocks = 0;
  std::vector<int16_t> q;    // [num_tokens][blocks * kPackBlock]
  std::vector<float> scale;  // [num_tokens][blocks]: xs
  std::vector<float> sum;    // [num_tokens][blocks]: xs * float(sum of the block's int16 values)
};
void SizePackedActivations(int64_t cols, int64_t num_tokens, PackedActivations* out);
// Tokens [t_begin, t_end) of x [num_tokens][cols]; different ranges may run concurrently.
void QuantizePackedActivations(const float* x, int64_t cols, int64_t t_begin, int64_t t_end, PackedActivations* out);

struct PackedMatMulArgs {
  const PackedMatrix* w = nullptr;
  const PackedActivations* x = nullptr;
  float* y = nullptr;  // [x->num_tokens][y_stride]
  int64_t y_stride = 0;
};
// Rows [row_begin, row_end) of y for every token. REQUIRES: row_begin a multiple of
// kPackPanel, row_end a multiple of it or w->rows.
void MatMulRowsPacked(const PackedMatMulArgs& a, int64_t row_begin, int64_t row_end);

namespace scalar {
void MatMulRowsPacked(const PackedMatMulArgs& a, int64_t row_begin, int64_t row_end);
}  // namespace scalar
namespace avx2 {
void MatMulRowsPacked(const PackedMatMulArgs& a, int64_t row_begin, int64_t row_end);
}  // namespace avx2
namespace vnni {
void MatMulRowsPacked(const PackedMatMulArgs& a, int64_t row_begin, int64_t row_end);
}  // namespace vnni

}  // namespace parley
