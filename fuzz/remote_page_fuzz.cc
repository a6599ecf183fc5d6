// Fuzzes the shared (Redis) tier's values (prefix_cache/remote_page.h): bytes read back from
// Redis are untrusted, so any value must give a verdict without a crash, a value accepted
// must have its payload inside it, and the codec must then handle that payload. A value
// built from the input must be accepted exactly as written, and refused after any change:
// one byte flipped anywhere, cut short, or read as another page, group or model.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "prefix_cache/page_codec.h"
#include "prefix_cache/remote_page.h"

namespace {

constexpr uint64_t kFingerprint = 0x50A271E7F00DULL;

parley::PagePoolShape Shape() {
  parley::PagePoolShape s;
  s.page_size = 4;
  s.owners = 1;
  s.kv_dim = 8;
  s.dtype = parley::KvDtype::kF32;
  s.head_dim = 4;
  return s;
}

bool Accepted(std::span<const uint8_t> value, uint64_t fingerprint, const parley::RemotePageId& id) {
  parley::HostCodec codec;
  std::span<const uint8_t> payload;
  return parley::DecodeRemotePage(value, fingerprint, id, &codec, &payload) == parley::RemoteDecode::kOk;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const parley::PagePoolShape kShape = Shape();
  const std::span<const uint8_t> input(data, size);

  // 1. The input as a value read from Redis, for a fixed page.
  parley::RemotePageId fixed;
  fixed.key = 0x1234567890ABCDEFULL;
  fixed.parent = 0x0FEDCBA098765432ULL;
  fixed.group = 1;
  fixed.tokens = {1, 2, 3, 4};
  {
    parley::HostCodec codec;
    std::span<const uint8_t> payload;
    const parley::RemoteDecode r = parley::DecodeRemotePage(input, kFingerprint, fixed, &codec, &payload);
    (void)parley::RemoteDecodeName(r);
    if (r == parley::RemoteDecode::kOk) {
      if (payload.data() < data || payload.data() + payload.size() > data + size) __builtin_trap();
      std::vector<uint8_t> page(kShape.page_bytes());
      (void)parley::DecodePage(kShape, codec, payload, page.data());
    }
  }

  // 2. A value written from the input: byte 0 picks the codec and the token count, byte 1
  //    the byte to flip; the tokens, then the payload, come from the rest.
  if (size < 3) return 0;
  static const parley::HostCodec kCodecs[] = {parley::HostCodec::kRaw, parley::HostCodec::kZstd,
                                              parley::HostCodec::kInt8};
  const parley::HostCodec codec = kCodecs[data[0] % 3];
  parley::RemotePageId id;
  id.key = 0x9E3779B97F4A7C15ULL ^ data[1];
  id.parent = 0xC2B2AE3D27D4EB4FULL;
  id.group = data[0] >> 4;
  size_t at = 2;
  const int num_tokens = (data[0] >> 2) % 4 + 1;
  for (int i = 0; i < num_tokens && at + 2 <= size; ++i, at += 2) {
    id.tokens.push_back(static_cast<int32_t>(data[at] | (data[at + 1] << 8)));
  }
  if (id.tokens.empty()) id.tokens.push_back(data[2]);  // a page holds at least one token
  const std::span<const uint8_t> payload = input.subspan(at);
  std::vector<uint8_t> value = parley::EncodeRemotePage(kFingerprint, id, codec, payload);

  parley::HostCodec got_codec;
  std::span<const uint8_t> got;
  if (parley::DecodeRemotePage(value, kFingerprint, id, &got_codec, &got) != parley::RemoteDecode::kOk ||
      got_codec != codec || got.size() != payload.size() ||
      !std::equal(got.begin(), got.end(), payload.begin())) {
    __builtin_trap();  // a value as written must read back exactly
  }
  // Read as another model, page, parent, group or tokens: refused.
  if (Accepted(value, kFingerprint + 1, id)) __builtin_trap();
  for (int change = 0; change < 4; ++change) {
    parley::RemotePageId other = id;
    if (change == 0) other.key ^= 1;
    if (change == 1) other.parent ^= 1;
    if (change == 2) other.group += 1;
    if (change == 3) other.tokens.back() ^= 1;
    if (Accepted(value, kFingerprint, other)) __builtin_trap();
  }
  // Cut short: refused.
  if (Accepted(std::span<const uint8_t>(value).first(value.size() - 1), kFingerprint, id)) __builtin_trap();
  // One byte flipped anywhere (header, tokens or payload): refused.
  const size_t pos = (static_cast<size_t>(data[1]) * 131 + size) % value.size();
  value[pos] ^= static_cast<uint8_t>(data[size - 1] | 1);
  if (Accepted(value, kFingerprint, id)) __builtin_trap();
  return 0;
}
