// The W8A8 product's scalar reference, conversions, packing and dispatch (int8_matmul.h).
#include "kernels/int8_matmul.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "kernels/cpu.h"
#include "kernels/fp16.h"
#include "kernels/int8_matmul_internal.h"
#include "kernels/quant.h"

namespace parley {

float QuantizeRowI8(const float* x, int64_t cols, int8_t* q, int64_t stride) {
  float amax = 0.0f;
  for (int64_t i = 0; i < cols; ++i) amax = std::max(amax, std::fabs(x[i]));
  const float scale = amax / 127.0f;
  const float inv = amax > 0.0f ? 127.0f / amax : 0.0f;
  for (int64_t i = 0; i < cols; ++i) {
    const float v = x[i] * inv;
    int32_t r = static_cast<int32_t>(v >= 0.0f ? v + 0.5f : v - 0.5f);
    q[i] = static_cast<int8_t>(std::clamp(r, -127, 127));
  }
  for (int64_t i = cols; i < stride; ++i) q[i] = 0;
  return scale;
}

namespace scalar {
void QuantizeActivationI8(const float* x, int64_t cols, int8_t* q, int64_t stride, float* scales) {
  for (int64_t b = 0; b * kI8Block < stride; ++b) {
    const int64_t begin = b * kI8Block;
    const int64_t n = std::max<int64_t>(0, std::min(cols - begin, kI8Block));
    scales[b] = QuantizeRowI8(x + begin, n, q + begin, kI8Block);
  }
}
}  // namespace scalar

// Written so that the compiler vectorizes it (the head and most layer products quantize
// every token's input with it). v + copysign(0.5, v) truncated is QuantizeRowI8's rounding.
float QuantizeBlockI16(const float* x, int64_t n, int16_t* r) {
  float amax = 0.0f;
  for (int64_t i = 0; i < n; ++i) amax = std::max(amax, std::fabs(x[i]));
  const float inv = amax > 0.0f ? 32767.0f / amax : 0.0f;
  for (int64_t i = 0; i < kI8HeadBlock; ++i) r[i] = 0;
  for (int64_t i = 0; i < n; ++i) {
    const float v = x[i] * inv;
    r[i] = static_cast<int16_t>(static_cast<int32_t>(std::clamp(v + std::copysign(0.5f, v), -32767.0f, 32767.0f)));
  }
  return amax / 32767.0f;
}

// The block's values in column order, then stored in the kernels' pair order.
void QuantizeActivationI16(const float* x, int64_t cols, int16_t* q, float* scales) {
  const int64_t blocks = (cols + kI8HeadBlock - 1) / kI8HeadBlock;
  std::fill(q, q + I8Stride(cols), int16_t{0});
  for (int64_t b = 0; b < blocks; ++b) {
    const int64_t begin = b * kI8HeadBlock, n = std::min(kI8HeadBlock, cols - begin);
    int16_t r[kI8HeadBlock];
    scales[b] = QuantizeBlockI16(x + begin, n, r);
    int16_t* out = q + begin;
    for (int64_t g = 0; g < kI8HeadBlock; g += 4) {
      out[g] = r[g];
      out[g + 1] = r[g + 2];
      out[g + 2] = r[g + 1];
      out[g + 3] = r[g + 3];
    }
  }
}

void QuantizeActivationI8(const float* x, int64_t cols, int8_t* q, int64_t stride, float* scales) {
  if (ActiveSimdLevel() >= SimdLevel::kAvx2) return avx2::QuantizeActivationI8(x, cols, q, stride, scales);
  scalar::QuantizeActivationI8(x, cols, q, stride, scales);
}

void InitInt8Matrix(int64_t rows, int64_t cols, Int8Matrix* out, bool f32_activations) {
  out->f32_activations = f32_activations;
  out->rows = rows;
  out->cols = cols;
  out->stride = I8Stride(cols);
  out->panels = (rows + kI8Panel - 1) / kI8Panel;
  out->q.assign(static_cast<size_t>(out->panels * out->blocks() * kI8TileBytes), 0);
  // The head (f32 activations) takes no VNNI bias: its kernels multiply signed by signed.
  out->bias.assign(f32_activations ? 0 : static_cast<size_t>(out->panels * out->blocks() * kI8Panel), 0);
  out->scale.assign(static_cast<size_t>(out->panels * kI8Panel), 0.0f);
  out->block_scale.assign(f32_activations ? static_cast<size_t>(out->panels * out->head_blocks() * kI8Panel) : 0, 0);
}

void SetInt8Row(int64_t r, const int8_t* q, float scale, Int8Matrix* out) {
  const int64_t p = r / kI8Panel, lane = r % kI8Panel;
  for (int64_t b = 0; b < out->blocks(); ++b) {
    int32_t sum = 0;
    for (int64_t i = b * kI8Block; i < (b + 1) * kI8Block; ++i) {
      out->q[out->index(r, i)] = q[i];
      sum += q[i];
    }
    if (!out->bias.empty()) out->bias[static_cast<size_t>((p * out->blocks() + b) * kI8Panel + lane)] = 128 * sum;
  }
  out->scale[static_cast<size_t>(r)] = scale;
}

void ConvertRowsToInt8(TensorType type, const uint8_t* data, size_t row_bytes, int64_t row_begin, int64_t row_end,
                       Int8Matrix* out) {
  std::vector<float> row(out->cols);
  std::vector<int8_t> q(out->stride);
  for (int64_t r = row_begin; r < row_end; ++r) {
    DequantizeRow(type, data + r * row_bytes, row.data(), out->cols);
    if (!out->f32_activations) {
      const float scale = QuantizeRowI8(row.data(), out->cols, q.data(), out->stride);
      SetInt8Row(r, q.data(), scale, out);
      continue;
    }
    // Per block of kI8HeadBlock: an f16 scale (max |w| / 127, rounded to f16) and the
    // values rounded against that rounded scale.
    std::fill(q.begin(), q.end(), 0);
    for (int64_t b = 0; b < out->head_blocks(); ++b) {
      const int64_t begin = b * kI8HeadBlock, n = std::min(kI8HeadBlock, out->cols - begin);
      float amax = 0.0f;
      for (int64_t i = 0; i < n; ++i) amax = std::max(amax, std::fabs(row[begin + i]));
      const uint16_t h = F32ToF16(amax / 127.0f);
      const float d = F16ToF32(h);
      for (int64_t i = 0; i < n; ++i) {
        const float v = d > 0.0f ? row[begin + i] / d : 0.0f;
        q[begin + i] = static_cast<int8_t>(std::clamp(static_cast<int32_t>(std::lround(v)), -127, 127));
      }
      out->block_scale[static_cast<size_t>((r / kI8Panel * out->head_blocks() + b) * kI8Panel + r % kI8Panel)] = h;
    }
    SetInt8Row(r, q.data(), 1.0f, out);
  }
}

namespace scalar {
void MatMulRowsI8(const I8MatMulArgs& a, int64_t row_begin, int64_t row_end) {
  const Int8Matrix& w = *a.w;
  const int64_t blocks = w.blocks();
  for (int64_t t = 0; t < a.num_tokens; ++t) {
    const int8_t* x = a.x + t * a.x_stride;
    const float* xs = a.x_scale + t * (a.x_stride / kI8Block);
    for (int64_t r = row_begin; r < row_end; ++r) {
      float acc = 0.0f;
      for (int64_t b = 0; b < blocks; ++b) {
        int32_t s = 0;
        for (int64_t i = b * kI8Block; i < (b + 1) * kI8Block; ++i) {
          s += static_cast<int32_t>(w.at(r, i)) * x[i];
        }
        acc = std::fma(static_cast<float>(s), xs[b], acc);
      }
      a.y[t * a.y_stride + r] = acc * w.scale[static_cast<size_t>(r)];
    }
  }
}
void MatMulRowsI8F32(const I8F32MatMulArgs& a, int64_t row_begin, int64_t row_end) {
  const Int8Matrix& w = *a.w;
  for (int64_t t = 0; t < a.x->num_tokens; ++t) {
    const int16_t* xq = a.x->q.data() + t * w.stride;
    const float* xs = a.x->scales.data() + t * w.head_blocks();
    for (int64_t r = row_begin; r < row_end; ++r) {
      float acc = 0.0f;
      for (int64_t b = 0; b < w.head_blocks(); ++b) {
        int32_t s = 0;
        for (int64_t i = b * kI8HeadBlock; i < (b + 1) * kI8HeadBlock; ++i) {
          static constexpr int kSlot[4] = {0, 2, 1, 3};  // where x[4g + k] is stored
          s += static_cast<int32_t>(w.at(r, i)) * xq[i / 4 * 4 + kSlot[i % 4]];
        }
        const float ws = F16ToF32(w.head_block_scales(r / kI8Panel, b)[r % kI8Panel]);
        acc = std::fma(static_cast<float>(s), ws * xs[b], acc);
      }
      a.y[t * a.y_stride + r] = acc * w.scale[static_cast<size_t>(r)];
    }
  }
}
}  // namespace scalar

namespace {

std::atomic<bool>& AmxAllowed() {
  static std::atomic<bool> allowed{[] {
    const char* env = std::getenv("PARLEY_AMX");
    return env == nullptr || (std::strcmp(env, "off") != 0 && std::strcmp(env, "0") != 0);
  }()};
  return allowed;
}

bool AmxWorks() {
  static const bool works = CpuHasAmxInt8() && CpuHasAvx512Vnni() && amx::TileConfigRoundTrips();
  return works;
}

}  // namespace

bool Int8UsesVnni() { return ActiveSimdLevel() == SimdLevel::kAvx512 && CpuHasAvx512Vnni(); }

bool Int8UsesAmx() { return Int8UsesVnni() && AmxAllowed().load(std::memory_order_relaxed) && AmxWorks(); }

bool AllowInt8Amx(bool allow) { return AmxAllowed().exchange(allow); }

void MatMulRowsI8(const I8MatMulArgs& a, int64_t row_begin, int64_t row_end) {
  if (Int8UsesVnni()) {
    I8MatMulArgs rest = a;
    if (a.num_tokens >= 16 && Int8UsesAmx()) {
      const int64_t tiled = a.num_tokens / 16 * 16;
      I8MatMulArgs head = a;
      head.num_tokens = tiled;
      amx::MatMulRowsI8(head, row_begin, row_end);
      rest.x += tiled * a.x_stride;
      rest.x_scale += tiled * (a.x_stride / kI8Block);
      rest.y += tiled * a.y_stride;
      rest.num_tokens -= tiled;
      if (rest.num_tokens == 0) return;
    }
    return vnni::MatMulRowsI8(rest, row_begin, row_end);
  }
  if (ActiveSimdLevel() >= SimdLevel::kAvx2) return avx2::MatMulRowsI8(a, row_begin, row_end);
  scalar::MatMulRowsI8(a, row_begin, row_end);
}

void SizeActivationsI16(const Int8Matrix& w, int64_t num_tokens, I16Activations* out) {
  out->num_tokens = num_tokens;
  out->q.resize(static_cast<size_t>(w.stride * num_tokens));
  out->scales.resize(static_cast<size_t>(w.head_blocks() * num_tokens));
  out->tiled = Int8UsesAmx() ? num_tokens / 16 * 16 : 0;
  out->hi.resize(static_cast<size_t>(out->tiled * w.stride));
  out->lo.resize(out->hi.size());
}

void QuantizeActivationsI16(const Int8Matrix& w, const float* x, int64_t x_stride, int64_t t_begin, int64_t t_end,
                            I16Activations* out) {
  static constexpr int kSlot[4] = {0, 2, 1, 3};
  for (int64_t t = t_begin; t < t_end; ++t) {
    int16_t* q = out->q.data() + t * w.stride;
    QuantizeActivationI16(x + t * x_stride, w.cols, q, out->scales.data() + t * w.head_blocks());
    if (t >= out->tiled) continue;
    int8_t* hi = out->hi.data() + t * w.stride;
    uint8_t* lo = out->lo.data() + t * w.stride;
    for (int64_t i = 0; i < w.stride; ++i) {
      const int16_t v = q[i / 4 * 4 + kSlot[i % 4]];
      hi[i] = static_cast<int8_t>(v >> 8);
      lo[i] = static_cast<uint8_t>(v & 0xff);
    }
  }
}

void PrepareActivationsI16(const Int8Matrix& w, const float* x, int64_t x_stride, int64_t num_tokens,
                           I16Activations* out) {
  SizeActivationsI16(w, num_tokens, out);
  QuantizeActivationsI16(w, x, x_stride, 0, num_tokens, out);
}

void MatMulRowsI8F32(const I8F32MatMulArgs& a, int64_t row_begin, int64_t row_end) {
  const int64_t n = a.x->num_tokens;
  if (ActiveSimdLevel() == SimdLevel::kScalar) return scalar::MatMulRowsI8F32(a, row_begin, row_end);
  if (!Int8UsesVnni()) return avx2::MatMulRowsI8I16(a, 0, n, row_begin, row_end);
  int64_t t = 0;
  if (a.x->tiled > 0 && Int8UsesAmx()) {  // whole groups of 16 tokens on the tiles
    amx::MatMulRowsI8I16(a, row_begin, row_end);
    t = a.x->tiled;
  }
  if (t < n) vnni::MatMulRowsI8I16(a, t, n, row_begin, row_end);
}

}  // namespace parley
