// SequenceKv: the K/V cache of one sequence, per layer, in f32. Global layers keep every
// position; sliding-window layers keep only the last `window` positions in a ring
// (slot = pos % window), so their memory is bounded whatever the conversation length.
// Not thread-safe; owned by whoever runs the sequence. (The paged, multi-sequence cache
// of the serving engine replaces this; this one backs `parley run` and `parley chat`.)
#pragma once

#include <cstdint>
#include <vector>

#include "model/config.h"

namespace parley {

class SequenceKv {
 public:
  // max_tokens: the context size (positions 0..max_tokens-1).
  SequenceKv(const ModelConfig& config, int32_t max_tokens);

  int32_t num_tokens() const { return num_tokens_; }
  int32_t max_tokens() const { return max_tokens_; }
  // Drops positions >= n (rewind, e.g. to re-run a turn). Window layers only stay exact
  // when no dropped-over slot was needed; REQUIRES n <= num_tokens(), and for window
  // layers n >= num_tokens() - window  (otherwise the caller must recompute from 0).
  void Truncate(int32_t n);
  // True if Truncate(n) keeps every window layer's needed keys.
  bool CanTruncateTo(int32_t n) const;
  void Clear() { num_tokens_ = 0; }

  // Rows of K / V for `pos` in `layer`: [kv_heads * head_dim].
  float* k(int32_t layer, int32_t pos) { return Slot(k_[layer], layer, pos); }
  float* v(int32_t layer, int32_t pos) { return Slot(v_[layer], layer, pos); }
  int32_t capacity(int32_t layer) const { return capacity_[layer]; }

  // Marks positions [num_tokens, num_tokens + n) as computed.
  void Advance(int32_t n) { num_tokens_ += n; }
  // Bytes held by this cache.
  size_t bytes() const;

 private:
  float* Slot(std::vector<float>& buf, int32_t layer, int32_t pos) {
    return buf.data() + static_cast<size_t>(pos % capacity_[layer]) * row_;
  }
  int32_t max_tokens_;
  int32_t num_tokens_ = 0;
  int32_t row_;                        // kv_heads * head_dim
  std::vector<int32_t> capacity_;      // per layer
  std::vector<int32_t> window_;        // per layer, 0 = global
  std::vector<std::vector<float>> k_;  // per layer: [capacity, kv_heads, head_dim]
  std::vector<std::vector<float>> v_;
};

}  // namespace parley
