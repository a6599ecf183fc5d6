// The prefix cache's page codecs (page_codec.h): raw copies, zstd level 1, and per-row int8.
#include "prefix_cache/page_codec.h"

#include <zstd.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "base/check.h"
#include "kernels/fp16.h"

namespace parley {
namespace {

// The codec a page of `shape` is stored in: int8 pools' pages are already int8 (raw).
HostCodec Effective(const PagePoolShape& shape, HostCodec codec) {
  return codec == HostCodec::kInt8 && shape.dtype == KvDtype::kI8 ? HostCodec::kRaw : codec;
}

// One row (kv_dim values of the page's dtype, f32 or f16) as floats.
void RowToFloat(const PagePoolShape& shape, const uint8_t* row, float* out) {
  PARLEY_DCHECK(shape.dtype != KvDtype::kI8) << "int8 pages are stored raw";
  if (shape.dtype == KvDtype::kF32) {
    std::memcpy(out, row, static_cast<size_t>(shape.kv_dim) * sizeof(float));
  } else {
    const uint16_t* h = reinterpret_cast<const uint16_t*>(row);
    for (int32_t i = 0; i < shape.kv_dim; ++i) out[i] = F16ToF32(h[i]);
  }
}

void FloatToRow(const PagePoolShape& shape, const float* in, uint8_t* row) {
  if (shape.dtype == KvDtype::kF32) {
    std::memcpy(row, in, static_cast<size_t>(shape.kv_dim) * sizeof(float));
  } else {
    uint16_t* h = reinterpret_cast<uint16_t*>(row);
    for (int32_t i = 0; i < shape.kv_dim; ++i) h[i] = F32ToF16(in[i]);
  }
}

int64_t RowsPerPage(const PagePoolShape& shape) {
  return static_cast<int64_t>(shape.owners) * 2 * shape.page_size;
}

}  // namespace

StatusOr<HostCodec> ParseHostCodec(const std::string& name) {
  if (name == "raw") return HostCodec::kRaw;
  if (name == "zstd") return HostCodec::kZstd;
  if (name == "int8") return HostCodec::kInt8;
  return Status::InvalidArgument("unknown host cache codec '" + name + "' (raw, zstd or int8)");
}

const char* HostCodecName(HostCodec codec) {
  switch (codec) {
    case HostCodec::kRaw:
      return "raw";
    case HostCodec::kZstd:
      return "zstd";
    case HostCodec::kInt8:
      return "int8";
  }
  return "?";
}

int64_t EncodedPageBytesEstimate(const PagePoolShape& shape, HostCodec codec) {
  codec = Effective(shape, codec);
  if (codec == HostCodec::kInt8) return RowsPerPage(shape) * (shape.kv_dim + static_cast<int64_t>(sizeof(float)));
  return static_cast<int64_t>(shape.page_bytes());
}

std::vector<uint8_t> EncodePage(const PagePoolShape& shape, HostCodec codec, const uint8_t* page) {
  std::vector<uint8_t> blob;
  const size_t page_bytes = shape.page_bytes();
  switch (Effective(shape, codec)) {
    case HostCodec::kRaw:
      blob.assign(page, page + page_bytes);
      break;
    case HostCodec::kZstd: {
      blob.resize(ZSTD_compressBound(page_bytes));
      size_t n = ZSTD_compress(blob.data(), blob.size(), page, page_bytes, 1);
      PARLEY_CHECK(!ZSTD_isError(n)) << ZSTD_getErrorName(n);
      blob.resize(n);
      blob.shrink_to_fit();
      break;
    }
    case HostCodec::kInt8: {
      const int64_t rows = RowsPerPage(shape);
      const size_t row_bytes = shape.row_bytes();
      blob.resize(static_cast<size_t>(rows) * (shape.kv_dim + sizeof(float)));
      std::vector<float> x(shape.kv_dim);
      uint8_t* out = blob.data();
      for (int64_t r = 0; r < rows; ++r) {
        RowToFloat(shape, page + r * row_bytes, x.data());
        float amax = 0;
        for (float v : x) amax = std::max(amax, std::fabs(v));
        const float scale = amax / 127.0f;
        const float inv = scale > 0 ? 1.0f / scale : 0.0f;
        std::memcpy(out, &scale, sizeof(float));
        out += sizeof(float);
        for (int32_t i = 0; i < shape.kv_dim; ++i) {
          out[i] = static_cast<uint8_t>(static_cast<int8_t>(std::lround(std::clamp(x[i] * inv, -127.0f, 127.0f))));
        }
        out += shape.kv_dim;
      }
      break;
    }
  }
  return blob;
}

bool DecodePage(const PagePoolShape& shape, HostCodec codec, std::span<const uint8_t> blob, uint8_t* page) {
  const size_t page_bytes = shape.page_bytes();
  switch (Effective(shape, codec)) {
    case HostCodec::kRaw:
      if (blob.size() != page_bytes) return false;
      std::memcpy(page, blob.data(), page_bytes);
      break;
    case HostCodec::kZstd: {
      size_t n = ZSTD_decompress(page, page_bytes, blob.data(), blob.size());
      if (ZSTD_isError(n) || n != page_bytes) return false;
      break;
    }
    case HostCodec::kInt8: {
      const int64_t rows = RowsPerPage(shape);
      const size_t row_bytes = shape.row_bytes();
      std::vector<float> x(shape.kv_dim);
      if (static_cast<int64_t>(blob.size()) != rows * (shape.kv_dim + static_cast<int64_t>(sizeof(float)))) return false;
      const uint8_t* in = blob.data();
      for (int64_t r = 0; r < rows; ++r) {
        float scale;
        std::memcpy(&scale, in, sizeof(float));
        in += sizeof(float);
        for (int32_t i = 0; i < shape.kv_dim; ++i) x[i] = static_cast<float>(static_cast<int8_t>(in[i])) * scale;
        in += shape.kv_dim;
        FloatToRow(shape, x.data(), page + r * row_bytes);
      }
      break;
    }
  }
  return true;
}

}  // namespace parley
