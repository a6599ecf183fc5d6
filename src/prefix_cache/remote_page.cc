#include "prefix_cache/remote_page.h"

#include <xxhash.h>

#include <cstddef>
#include <cstdio>
#include <cstring>

namespace parley {
namespace {

constexpr uint32_t kMagic = 0x52564b50;  // "PKVR" little-endian
constexpr uint16_t kVersion = 1;

// Little-endian fixed layout; every field at a fixed offset.
struct Header {
  uint32_t magic;
  uint16_t version;
  uint8_t codec;
  uint8_t reserved;
  uint64_t fingerprint;
  uint64_t key;
  uint64_t parent;
  int32_t group;
  int32_t num_tokens;
  uint64_t payload_bytes;
  uint64_t checksum;  // of the fields above, the tokens and the payload
};
static_assert(sizeof(Header) == 56);
constexpr size_t kChecked = offsetof(Header, checksum);

uint64_t Checksum(const uint8_t* header, std::span<const uint8_t> body) {
  return XXH3_64bits_withSeed(body.data(), body.size(), XXH3_64bits(header, kChecked));
}

}  // namespace

std::string RemoteKeyName(uint64_t fingerprint, uint64_t key, int32_t group) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "parley:kv:%016llx:%016llx:%d", static_cast<unsigned long long>(fingerprint),
                static_cast<unsigned long long>(key), group);
  return buf;
}

std::vector<uint8_t> EncodeRemotePage(uint64_t fingerprint, const RemotePageId& id, HostCodec codec,
                                      std::span<const uint8_t> payload) {
  Header h{};
  h.magic = kMagic;
  h.version = kVersion;
  h.codec = static_cast<uint8_t>(codec);
  h.fingerprint = fingerprint;
  h.key = id.key;
  h.parent = id.parent;
  h.group = id.group;
  h.num_tokens = static_cast<int32_t>(id.tokens.size());
  h.payload_bytes = payload.size();
  const size_t token_bytes = id.tokens.size() * sizeof(int32_t);
  std::vector<uint8_t> out(sizeof(Header) + token_bytes + payload.size());
  if (token_bytes > 0) std::memcpy(out.data() + sizeof(Header), id.tokens.data(), token_bytes);
  if (!payload.empty()) std::memcpy(out.data() + sizeof(Header) + token_bytes, payload.data(), payload.size());
  std::memcpy(out.data(), &h, sizeof(Header));
  h.checksum = Checksum(out.data(), std::span<const uint8_t>(out).subspan(sizeof(Header)));
  std::memcpy(out.data(), &h, sizeof(Header));
  return out;
}

const char* RemoteDecodeName(RemoteDecode result) {
  switch (result) {
    case RemoteDecode::kOk: return "ok";
    case RemoteDecode::kShort: return "short";
    case RemoteDecode::kBadHeader: return "bad_header";
    case RemoteDecode::kMismatch: return "mismatch";
    case RemoteDecode::kChecksum: return "checksum";
  }
  return "?";
}

RemoteDecode DecodeRemotePage(std::span<const uint8_t> value, uint64_t fingerprint, const RemotePageId& id,
                              HostCodec* codec, std::span<const uint8_t>* payload) {
  if (value.size() < sizeof(Header)) return RemoteDecode::kShort;
  Header h;
  std::memcpy(&h, value.data(), sizeof(Header));
  if (h.magic != kMagic || h.version != kVersion || h.codec > static_cast<uint8_t>(HostCodec::kInt8) ||
      h.num_tokens < 0) {
    return RemoteDecode::kBadHeader;
  }
  const size_t token_bytes = static_cast<size_t>(h.num_tokens) * sizeof(int32_t);
  if (value.size() != sizeof(Header) + token_bytes + h.payload_bytes) return RemoteDecode::kShort;
  if (Checksum(value.data(), value.subspan(sizeof(Header))) != h.checksum) return RemoteDecode::kChecksum;
  if (h.fingerprint != fingerprint || h.key != id.key || h.parent != id.parent || h.group != id.group ||
      static_cast<size_t>(h.num_tokens) != id.tokens.size() ||
      (token_bytes > 0 && std::memcmp(value.data() + sizeof(Header), id.tokens.data(), token_bytes) != 0)) {
    return RemoteDecode::kMismatch;
  }
  *codec = static_cast<HostCodec>(h.codec);
  *payload = value.subspan(sizeof(Header) + token_bytes);
  return RemoteDecode::kOk;
}

}  // namespace parley
