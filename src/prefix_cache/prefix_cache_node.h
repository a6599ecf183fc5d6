// PrefixCache's tree node, shared by its source files (prefix_cache.cc: lookup, insert,
// tiers; prefix_cache_evict.cc: the eviction sets and eviction). Private to them.
#pragma once

#include <cstdint>
#include <vector>

#include "prefix_cache/prefix_cache.h"

namespace parley {

struct PrefixCache::Node {
  uint64_t key = 0;
  Node* parent = nullptr;
  int32_t depth = 0;             // the page's index in its sequences
  std::vector<int32_t> tokens;   // the page's tokens (collision guard)
  std::vector<int32_t> page;     // [group] pool page (one reference held by the cache) or -1
  std::vector<int64_t> host;     // [group] host tier id or -1
  std::vector<int64_t> disk;     // [group] disk tier id or -1
  int32_t num_children = 0;
  std::vector<int32_t> resident_children;  // [group] children holding a pool page there
  uint64_t last_use = 0;
  uint64_t indexed_use = 0;      // last_use when last put in the eviction sets
  bool keep_window = false;      // a turn-boundary resume needs this node's window pages
  uint64_t remote = 0;           // bit g: group g's page was queued for the shared tier
  bool busy = false;             // part of a Match in progress: not evictable
};

}  // namespace parley
