// SequenceKv: the KV cache of one sequence for `parley run`, `parley chat` and tests: a
// private paged KvCache sized for exactly one sequence of max_tokens, plus its block
// tables. Window layers release pages that left the window, so memory stays bounded like
// a ring. Not thread-safe; owned by whoever runs the sequence. (The serving engine shares
// one KvCache among all its sequences instead.)
#pragma once

#include <cstdint>
#include <memory>

#include "model/config.h"
#include "kv/kv_cache.h"

namespace parley {

class SequenceKv {
 public:
  // max_tokens: the context size (positions 0..max_tokens-1); max_chunk: the most tokens
  // one Forward call computes. REQUIRES: a valid layout (MakeKvLayout(config, sharing)
  // succeeds; checked).
  SequenceKv(const ModelConfig& config, int32_t max_tokens, KvDtype dtype = KvDtype::kF32,
             const std::string& sharing = "", int32_t max_chunk = 512);

  int32_t num_tokens() const { return num_tokens_; }
  int32_t max_tokens() const { return max_tokens_; }
  // Drops positions >= n (rewind, e.g. to re-run a turn). REQUIRES CanTruncateTo(n).
  void Truncate(int32_t n);
  // True if n <= num_tokens() and the window layers still hold the keys position n needs.
  bool CanTruncateTo(int32_t n) const;
  void Clear() { Truncate(0); }

  // Pages for positions [num_tokens, num_tokens + n): false if they do not fit.
  bool Reserve(int32_t n);
  // Marks positions [num_tokens, num_tokens + n) as computed and lets window layers drop
  // pages no later position can see.
  void Advance(int32_t n);

  KvCache* cache() { return cache_.get(); }
  SeqKv* seq() { return &seq_; }
  // Bytes of KV this sequence holds now.
  int64_t bytes() const { return cache_->BytesForContext(num_tokens_); }

 private:
  int32_t max_tokens_;
  int32_t num_tokens_ = 0;
  std::unique_ptr<KvCache> cache_;
  SeqKv seq_;
};

}  // namespace parley
