#include "spec/ngram_pool.h"

#include <algorithm>

#include "base/check.h"

namespace parley {

NgramPool::NgramPool(int32_t slots, int32_t n, int32_t continuation)
    : n_(n), continuation_(continuation), stride_(static_cast<size_t>(n + 1 + continuation)) {
  PARLEY_CHECK(slots > 0 && n > 0 && continuation > 0);
  size_t size = 1;
  while (size < static_cast<size_t>(slots)) size <<= 1;
  mask_ = size - 1;
  table_.assign(size * stride_, 0);  // count 0: empty
}

size_t NgramPool::Slot(std::span<const int32_t> key) const {
  uint64_t h = 0x9E3779B97F4A7C15ull;
  for (int32_t t : key) {
    h ^= static_cast<uint32_t>(t);
    h *= 0xBF58476D1CE4E5B9ull;
    h ^= h >> 31;
  }
  return static_cast<size_t>(h) & mask_;
}

void NgramPool::Add(std::span<const int32_t> tokens) {
  const int32_t len = static_cast<int32_t>(tokens.size());
  for (int32_t i = 0; i + n_ < len; ++i) {
    const std::span<const int32_t> key = tokens.subspan(i, n_);
    int32_t* e = Entry(Slot(key));
    std::copy(key.begin(), key.end(), e);
    const int32_t take = std::min(continuation_, len - i - n_);
    e[n_] = take;
    std::copy(tokens.begin() + i + n_, tokens.begin() + i + n_ + take, e + n_ + 1);
  }
}

int32_t NgramPool::Lookup(std::span<const int32_t> tokens, int32_t max_draft, std::vector<int32_t>* draft) const {
  if (static_cast<int32_t>(tokens.size()) < n_ || max_draft <= 0) return 0;
  const std::span<const int32_t> key = tokens.subspan(tokens.size() - n_);
  const int32_t* e = Entry(Slot(key));
  if (e[n_] == 0 || !std::equal(key.begin(), key.end(), e)) return 0;
  const int32_t take = std::min(max_draft, e[n_]);
  draft->insert(draft->end(), e + n_ + 1, e + n_ + 1 + take);
  return take;
}

}  // namespace parley
