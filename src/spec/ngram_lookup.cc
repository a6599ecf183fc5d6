#include "spec/ngram_lookup.h"

#include <algorithm>

namespace parley {

int32_t LookupNgramDraft(std::span<const int32_t> tokens, const NgramLookupOptions& options, int32_t max_draft,
                         std::vector<int32_t>* draft) {
  const int32_t len = static_cast<int32_t>(tokens.size());
  if (max_draft <= 0) return 0;
  for (int32_t n = std::min(options.max_n, len - 1); n >= std::max(1, options.min_n); --n) {
    const std::span<const int32_t> ending = tokens.subspan(len - n);
    // Latest occurrence that ends before the text does (so something follows it).
    for (int32_t start = len - n - 1; start >= 0; --start) {
      if (!std::equal(ending.begin(), ending.end(), tokens.begin() + start)) continue;
      // Copy what followed; where that runs into the text's end, the copy continues from
      // its own beginning (a repeating pattern repeats on: an overlapping copy, as LZ77's).
      const int32_t from = start + n;
      const size_t base = draft->size();
      for (int32_t j = 0; j < max_draft; ++j) {
        const int32_t src = from + j;
        draft->push_back(src < len ? tokens[src] : (*draft)[base + (src - len)]);
      }
      return max_draft;
    }
  }
  return 0;
}

int32_t FindNgram(std::span<const int32_t> source, std::span<const int32_t> key, int32_t from) {
  const int32_t n = static_cast<int32_t>(key.size());
  const int32_t len = static_cast<int32_t>(source.size());
  if (n == 0) return -1;
  for (int32_t start = std::max(0, from); start + n <= len; ++start) {
    if (std::equal(key.begin(), key.end(), source.begin() + start)) return start + n;
  }
  return -1;
}

}  // namespace parley
