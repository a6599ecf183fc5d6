// Keys of token pages for the prefix cache: page i of a sequence is keyed by
// key_i = XXH3-64(tokens of page i, seed = key_{i-1}), key_{-1} = a fixed seed, so a key
// names the whole prefix up to the end of its page.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace parley {

inline constexpr uint64_t kPageKeySeed = 0x7061726c6579ull;  // "parley"

uint64_t ChainPageKey(uint64_t previous, std::span<const int32_t> page_tokens);

// Keys of the first `num_pages` full pages of `tokens` (REQUIRES num_pages * page_size <= size).
std::vector<uint64_t> PageKeys(std::span<const int32_t> tokens, int32_t page_size, int32_t num_pages);

}  // namespace parley
