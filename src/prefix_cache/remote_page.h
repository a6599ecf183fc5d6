// The shared KV tier's wire format (redis_tier.h): how one KV page of one group is named and
// stored in Redis, so that replicas of the same model and configuration share pages and no
// others ever read them.
//   key    "parley:kv:<fingerprint>:<chained page key>:<group>" (hex), the fingerprint naming
//          the model file, numerics and KV layout (engine.cc: RemoteFingerprint)
//   value  a 56-byte header (magic, version, codec, fingerprint, key, parent key, group,
//          token count, payload length, checksum) + the page's tokens + the codec payload
//          (page_codec.h). The checksum is XXH3 over the header's other fields, the tokens
//          and the payload.
// DecodeRemotePage checks every field against what the reader expects (length, checksum,
// fingerprint, key, parent, group, the page's own tokens as a collision guard): a value
// that fails any check is a miss, never wrong K/V. Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "prefix_cache/page_codec.h"

namespace parley {

// Names one page of one group in the shared tier, with what its value must carry.
struct RemotePageId {
  uint64_t key = 0;     // chained page hash (page_hash.h)
  uint64_t parent = 0;  // the previous page's key (kPageKeySeed for page 0)
  int32_t group = 0;    // KV group
  std::vector<int32_t> tokens;  // the page's tokens
};

std::string RemoteKeyName(uint64_t fingerprint, uint64_t key, int32_t group);

// The value stored for one page: header + tokens + payload (`payload` encoded with `codec`).
std::vector<uint8_t> EncodeRemotePage(uint64_t fingerprint, const RemotePageId& id, HostCodec codec,
                                      std::span<const uint8_t> payload);

enum class RemoteDecode { kOk, kShort, kBadHeader, kMismatch, kChecksum };
const char* RemoteDecodeName(RemoteDecode result);

// Checks `value` against `fingerprint` and `id`; on kOk sets *codec and *payload (a view
// into `value`).
RemoteDecode DecodeRemotePage(std::span<const uint8_t> value, uint64_t fingerprint, const RemotePageId& id,
                              HostCodec* codec, std::span<const uint8_t>* payload);

}  // namespace parley
