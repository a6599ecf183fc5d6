// Fuzzes the prefix cache's page codecs: arbitrary blobs must decode or be refused for
// every codec and shape, and an encode -> decode round trip must be exact for the
// lossless codecs (raw, zstd; int8 too when the pool itself is int8).
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

#include "prefix_cache/page_codec.h"

namespace {

parley::PagePoolShape Shape(int32_t page_size, int32_t owners, int32_t kv_dim,
                            parley::KvDtype dtype, int32_t head_dim) {
  parley::PagePoolShape s;
  s.page_size = page_size;
  s.owners = owners;
  s.kv_dim = kv_dim;
  s.dtype = dtype;
  s.head_dim = head_dim;
  return s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const parley::PagePoolShape kShapes[] = {
      Shape(4, 1, 8, parley::KvDtype::kF32, 4),
      Shape(2, 2, 16, parley::KvDtype::kF16, 8),
      Shape(4, 1, 8, parley::KvDtype::kI8, 4),
      Shape(1, 1, 4, parley::KvDtype::kF32, 4),
  };
  const std::span<const uint8_t> blob(data, size);
  for (const parley::PagePoolShape& shape : kShapes) {
    const size_t page_bytes = shape.page_bytes();
    std::vector<uint8_t> page(page_bytes);
    for (parley::HostCodec codec :
         {parley::HostCodec::kRaw, parley::HostCodec::kZstd, parley::HostCodec::kInt8}) {
      (void)parley::DecodePage(shape, codec, blob, page.data());
    }
    // Round trip: the input (cycled) is the page's bytes.
    if (size == 0) continue;
    std::vector<uint8_t> original(page_bytes);
    for (size_t i = 0; i < page_bytes; ++i) original[i] = data[i % size];
    for (parley::HostCodec codec : {parley::HostCodec::kRaw, parley::HostCodec::kZstd}) {
      const std::vector<uint8_t> encoded = parley::EncodePage(shape, codec, original.data());
      std::vector<uint8_t> decoded(page_bytes, 0xAB);
      if (!parley::DecodePage(shape, codec, encoded, decoded.data())) __builtin_trap();
      if (std::memcmp(decoded.data(), original.data(), page_bytes) != 0) __builtin_trap();
    }
    if (shape.dtype == parley::KvDtype::kI8) {
      const std::vector<uint8_t> encoded =
          parley::EncodePage(shape, parley::HostCodec::kInt8, original.data());
      std::vector<uint8_t> decoded(page_bytes, 0xAB);
      if (!parley::DecodePage(shape, parley::HostCodec::kInt8, encoded, decoded.data()) ||
          std::memcmp(decoded.data(), original.data(), page_bytes) != 0) {
        __builtin_trap();
      }
    } else {
      // Lossy int8 of f32/f16 rows: arbitrary bytes may be NaN/Inf; it must still decode.
      const std::vector<uint8_t> encoded =
          parley::EncodePage(shape, parley::HostCodec::kInt8, original.data());
      std::vector<uint8_t> decoded(page_bytes);
      if (!parley::DecodePage(shape, parley::HostCodec::kInt8, encoded, decoded.data())) {
        __builtin_trap();
      }
    }
  }
  return 0;
}
