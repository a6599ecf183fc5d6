// W8A8 matrix products (`--weights int8`, Character.AI's int8 path): weights are int8 per
// output row with one f32 scale (max |w| / 127, symmetric); activations are int8 with one
// dynamic f32 scale per block of kI8Block values of a token (per-token scales lose 3-5% of
// perplexity to the outlier channels of these models; blocks of 64 keep it within ~1%).
//
// The product, for token t and row r:
//   S_b  = sum over block b of w[r][i] * x[t][i]        (exact int32)
//   acc  = 0; for b in order: acc = fma(float(S_b), x_scale[t][b], acc)
//   y    = acc * w_scale[r]
// Every level (AMX tiles, AVX-512 VNNI, AVX2, scalar) computes exactly these operations, so
// products are bit-identical across levels and do not depend on the batch or on how many
// tokens take the AMX path.
//
// Weights are packed at load for the integer units: rows in panels of kI8Panel (16), and
// each panel's block b is a 1,024-byte tile of 16 lines, line g holding bytes [4g, 4g + 4)
// of the block for each of the 16 rows. That tile is an AMX B operand as it stands, and a
// line is one AVX-512 vector of 16 row lanes for VNNI. AMX multiplies signed by signed
// bytes; VNNI only unsigned by signed, so it biases the activations (x + 128) and each panel
// block keeps 128 * (sum of its row's weights), the bias to take back out.
// Rows and activations are padded with zeros to a multiple of kI8Block values. Stateless;
// thread-safe.
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/tensor_type.h"

namespace parley {

constexpr int64_t kI8Block = 64;  // activation values per scale: one tile line of 4 x 16 bytes
constexpr int64_t kI8Panel = 16;  // rows per packed panel
constexpr int64_t kI8TileBytes = kI8Block * kI8Panel;
constexpr int64_t kI8HeadBlock = 32;  // columns per weight scale of an f32-activation matrix
inline int64_t I8Stride(int64_t cols) { return (cols + kI8Block - 1) / kI8Block * kI8Block; }

// One weight matrix converted to packed int8 panels.
struct Int8Matrix {
  int64_t rows = 0, cols = 0;
  int64_t stride = 0;  // I8Stride(cols)
  int64_t panels = 0;  // ceil(rows / kI8Panel); rows past `rows` are zero
  std::vector<int8_t> q;      // [panels][blocks][16 lines][16 rows][4]
  std::vector<int32_t> bias;  // [panels][blocks][16 rows]: 128 * sum of the row's block (none for the head)
  std::vector<float> scale;   // [panels * 16]

  int64_t blocks() const { return stride / kI8Block; }
  const int8_t* tile(int64_t panel, int64_t block) const {
    return q.data() + (panel * blocks() + block) * kI8TileBytes;
  }
  const int32_t* tile_bias(int64_t panel, int64_t block) const {
    return bias.data() + (panel * blocks() + block) * kI8Panel;
  }
  // Where weight (r, i) lives in q.
  size_t index(int64_t r, int64_t i) const {
    const int64_t b = i / kI8Block, g = (i % kI8Block) / 4;
    return static_cast<size_t>(((r / kI8Panel * blocks() + b) * 16 + g) * 64 + (r % kI8Panel) * 4 + i % 4);
  }
  int8_t at(int64_t r, int64_t i) const { return q[index(r, i)]; }
  int64_t bytes() const {
    return static_cast<int64_t>(q.size() + bias.size() * 4 + scale.size() * 4 + block_scale.size() * 2);
  }
  // Multiply f32 activations (MatMulRowsI8F32, as int16) rather than int8 ones: the output
  // head and the layer products whose input is a norm's output or the FFN product, where
  // outlier channels make int8 activations and per-row weight scales cost SmolLM2 0.7% of
  // perplexity (docs/performance.md). Such a matrix keeps one f16 scale per row and block
  // of kI8HeadBlock columns (Q8_0's precision: a Q8_0 matrix converts exactly) and a row
  // scale of 1.
  bool f32_activations = false;
  std::vector<uint16_t> block_scale;  // [panels][head blocks][16 rows], f16
  int64_t head_blocks() const { return (cols + kI8HeadBlock - 1) / kI8HeadBlock; }
  const uint16_t* head_block_scales(int64_t panel, int64_t block) const {
    return block_scale.data() + (panel * head_blocks() + block) * kI8Panel;
  }
};

// Quantizes `cols` values to int8 with a symmetric scale (max |x| / 127; 0 for an all-zero
// row), rounding half away from zero; the tail up to `stride` is zeroed. Returns the scale.
float QuantizeRowI8(const float* x, int64_t cols, int8_t* q, int64_t stride);
// An activation row for the product: QuantizeRowI8 per block of kI8Block values, the
// blocks' scales in scales[stride / kI8Block].
void QuantizeActivationI8(const float* x, int64_t cols, int8_t* q, int64_t stride, float* scales);

// Sizes `out` for a rows x cols matrix (all zero), for int8 or f32 activations.
void InitInt8Matrix(int64_t rows, int64_t cols, Int8Matrix* out, bool f32_activations = false);
// Stores row r (stride values, from QuantizeRowI8) and its scale into the panels.
void SetInt8Row(int64_t r, const int8_t* q, float scale, Int8Matrix* out);
// Converts rows [row_begin, row_end) of a GGUF weight (`type`, rows `row_bytes` apart) into
// `out` (InitInt8Matrix first). Different row ranges may be converted concurrently.
void ConvertRowsToInt8(TensorType type, const uint8_t* data, size_t row_bytes, int64_t row_begin, int64_t row_end,
                       Int8Matrix* out);

struct I8MatMulArgs {
  const Int8Matrix* w = nullptr;
  const int8_t* x = nullptr;  // [num_tokens][x_stride], x_stride >= w->stride, zero padded
  int64_t x_stride = 0;
  const float* x_scale = nullptr;  // [num_tokens][x_stride / kI8Block]
  float* y = nullptr;              // [num_tokens][y_stride]
  int64_t y_stride = 0;
  int64_t num_tokens = 0;
};

// Rows [row_begin, row_end) of y for every token. REQUIRES: row_begin a multiple of
// kI8Panel, row_end a multiple of it or w->rows.
void MatMulRowsI8(const I8MatMulArgs& a, int64_t row_begin, int64_t row_end);

// int8 weights against f32 activations (an f32_activations matrix, the head): the
// activations become int16 per block of kI8HeadBlock values (scale max |x| / 32767, so
// nothing of an f32 activation's precision that matters is lost), and per block
//   S = sum of w[r][i] * x16[i] (exact int32),  acc = fma(float(S), w_block_scale * x_scale, acc)
// in block order; y = acc * w_scale[r]. The same operations at every level (AVX-512 VNNI's
// vpdpwssd, AVX2's vpmaddwd, scalar): bit-identical and batch invariant.
//
// The activations are quantized once per product (PrepareActivationsI16), then every row
// range reads them.
struct I16Activations {
  int64_t num_tokens = 0;
  std::vector<int16_t> q;     // [num_tokens][w.stride], each group of 4 as (x0, x2, x1, x3)
  std::vector<float> scales;  // [num_tokens][w.head_blocks()]
  // The leading tokens in whole groups of 16 when AMX is in use (else 0), as their int16
  // values' high (signed) and low (unsigned) bytes in column order: [tiled][w.stride].
  int64_t tiled = 0;
  std::vector<int8_t> hi;
  std::vector<uint8_t> lo;
};
void PrepareActivationsI16(const Int8Matrix& w, const float* x, int64_t x_stride, int64_t num_tokens,
                           I16Activations* out);
// The same in two steps, so that token ranges can be quantized on different threads:
// SizeActivationsI16 once, then QuantizeActivationsI16 for ranges covering [0, num_tokens).
void SizeActivationsI16(const Int8Matrix& w, int64_t num_tokens, I16Activations* out);
void QuantizeActivationsI16(const Int8Matrix& w, const float* x, int64_t x_stride, int64_t t_begin, int64_t t_end,
                            I16Activations* out);

struct I8F32MatMulArgs {
  const Int8Matrix* w = nullptr;
  const I16Activations* x = nullptr;  // prepared for w
  float* y = nullptr;                 // [x->num_tokens][y_stride]
  int64_t y_stride = 0;
};
// Same row-range contract as MatMulRowsI8.
void MatMulRowsI8F32(const I8F32MatMulArgs& a, int64_t row_begin, int64_t row_end);

// One activation row of the head: int16 values per block of kI8HeadBlock, each group of 4
// stored as (x0, x2, x1, x3) (the order the kernels pair them in), zero padded to
// I8Stride(cols); scales[blocks].
void QuantizeActivationI16(const float* x, int64_t cols, int16_t* q, float* scales);
// One block of n <= kI8HeadBlock values as int16 in column order (r[n..kI8HeadBlock) = 0);
// returns its scale, max |x| / 32767. Shared with the packed products (packed_matmul.h).
float QuantizeBlockI16(const float* x, int64_t n, int16_t* r);

namespace scalar {
void MatMulRowsI8(const I8MatMulArgs& a, int64_t row_begin, int64_t row_end);
void MatMulRowsI8F32(const I8F32MatMulArgs& a, int64_t row_begin, int64_t row_end);
void QuantizeActivationI8(const float* x, int64_t cols, int8_t* q, int64_t stride, float* scales);
}  // namespace scalar

// Whether the AVX-512 level runs the VNNI kernel here (else AVX2's).
bool Int8UsesVnni();
// Whether groups of 16 tokens run on AMX tiles here: the CPU has AMX-INT8, the kernel
// granted the tile state, a tile configuration reads back as written, and AMX is allowed
// (PARLEY_AMX=off in the environment or AllowInt8Amx(false) turn it off).
bool Int8UsesAmx();
// Allows or forbids the AMX path (tests, benchmarks). Returns the previous setting.
bool AllowInt8Amx(bool allow);

}  // namespace parley
