// HostTier: a bounded store in host memory for KV pages the prefix cache evicts from the
// pool, so a later hit restores them by copying instead of recomputing. Pages are stored
// encoded (page_codec.h: raw, zstd or int8).
// Not thread-safe: owned by the engine thread.
#pragma once

#include <cstdint>
#include <unordered_map>
#include <vector>

#include "kv/page_pool.h"
#include "prefix_cache/page_codec.h"

namespace parley {

class HostTier {
 public:
  HostTier(int64_t budget_bytes, HostCodec codec) : budget_(budget_bytes), codec_(codec) {}

  // Stores one page of `shape` (page_bytes() bytes at `page`). Returns its id, or -1 when it
  // does not fit in the budget (nothing stored).
  int64_t Put(const PagePoolShape& shape, const uint8_t* page);
  // Writes the page back (page_bytes() bytes). REQUIRES: id was returned by Put, not dropped.
  void Get(int64_t id, const PagePoolShape& shape, uint8_t* page) const;
  // Removes the page and returns it encoded (to move it to a lower tier).
  std::vector<uint8_t> Take(int64_t id);
  void Drop(int64_t id);
  bool Contains(int64_t id) const { return blobs_.count(id) != 0; }

  HostCodec codec() const { return codec_; }
  int64_t budget_bytes() const { return budget_; }
  int64_t bytes_used() const { return used_; }
  int64_t num_pages() const { return static_cast<int64_t>(blobs_.size()); }

 private:
  int64_t budget_;
  HostCodec codec_;
  int64_t used_ = 0;
  int64_t next_id_ = 0;
  std::unordered_map<int64_t, std::vector<uint8_t>> blobs_;
};

}  // namespace parley
