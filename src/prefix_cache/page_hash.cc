#include "prefix_cache/page_hash.h"

#include <xxhash.h>

#include "base/check.h"

namespace parley {

uint64_t ChainPageKey(uint64_t previous, std::span<const int32_t> page_tokens) {
  return XXH3_64bits_withSeed(page_tokens.data(), page_tokens.size_bytes(), previous);
}

std::vector<uint64_t> PageKeys(std::span<const int32_t> tokens, int32_t page_size, int32_t num_pages) {
  PARLEY_CHECK(static_cast<size_t>(num_pages) * page_size <= tokens.size());
  std::vector<uint64_t> keys(num_pages);
  uint64_t key = kPageKeySeed;
  for (int32_t i = 0; i < num_pages; ++i) {
    key = ChainPageKey(key, tokens.subspan(static_cast<size_t>(i) * page_size, page_size));
    keys[i] = key;
  }
  return keys;
}

}  // namespace parley
