// How the prefix cache's lower tiers (host memory, disk) store one KV page:
//   raw   byte for byte (lossless),
//   zstd  compressed with zstd level 1 (lossless),
//   int8  each K/V row quantized to int8 with one f32 scale (max |x| / 127; lossy, ~4x
//         smaller than f32 rows, ~2x smaller than f16). Pages of an int8 KV pool are
//         already int8 (with a scale per 32 values of a head, finer than this codec's per
//         row): they are stored byte for byte, so they come back exact.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "base/status.h"
#include "kv/page_pool.h"

namespace parley {

enum class HostCodec { kRaw, kZstd, kInt8 };
StatusOr<HostCodec> ParseHostCodec(const std::string& name);  // "raw" | "zstd" | "int8"
const char* HostCodecName(HostCodec codec);

// The page_bytes() bytes at `page` (of `shape`) in `codec`.
std::vector<uint8_t> EncodePage(const PagePoolShape& shape, HostCodec codec, const uint8_t* page);
// Writes the page back (page_bytes() bytes); false when `blob` is not a page of this shape
// and codec (wrong size, does not decompress).
bool DecodePage(const PagePoolShape& shape, HostCodec codec, std::span<const uint8_t> blob, uint8_t* page);
// Bytes an encoded page of `shape` takes (exact for raw and int8; zstd varies).
int64_t EncodedPageBytesEstimate(const PagePoolShape& shape, HostCodec codec);

}  // namespace parley
