#include "model/sequence_kv.h"

#include <algorithm>

#include "base/check.h"

namespace parley {

SequenceKv::SequenceKv(const ModelConfig& config, int32_t max_tokens)
    : max_tokens_(max_tokens), row_(config.kv_dim()) {
  for (const LayerConfig& l : config.layers) {
    int32_t cap = l.window > 0 ? std::min(l.window, max_tokens) : max_tokens;
    capacity_.push_back(cap);
    window_.push_back(l.window);
    k_.emplace_back(static_cast<size_t>(cap) * row_);
    v_.emplace_back(static_cast<size_t>(cap) * row_);
  }
}

bool SequenceKv::CanTruncateTo(int32_t n) const {
  if (n < 0 || n > num_tokens_) return false;
  for (int32_t w : window_) {
    if (w <= 0 || w >= max_tokens_) continue;
    // Writing positions [n, num_tokens) overwrote positions [n - w, num_tokens - w); the
    // next position n needs keys [n - w + 1, n). Rewinding is exact iff they don't meet.
    int32_t lo = std::max(0, n - w + 1);
    int32_t hi = std::min(num_tokens_ - w, n);
    if (lo < hi) return false;
  }
  return true;
}

void SequenceKv::Truncate(int32_t n) {
  PARLEY_CHECK(CanTruncateTo(n)) << "cannot rewind a sliding-window cache to " << n;
  num_tokens_ = n;
}

size_t SequenceKv::bytes() const {
  size_t b = 0;
  for (size_t l = 0; l < k_.size(); ++l) b += (k_[l].size() + v_[l].size()) * sizeof(float);
  return b;
}

}  // namespace parley
