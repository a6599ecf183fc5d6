// ForwardSeq: one sequence's share of a ragged forward batch (DESIGN.md §2). The batch is
// all scheduled sequences' new tokens stacked into one [num_tokens, hidden] matrix, so
// every weight is read once per step; attention then runs per sequence over its pages.
#pragma once

#include <cstdint>
#include <span>

#include "kv/kv_cache.h"

namespace parley {

struct ForwardSeq {
  const SeqKv* kv = nullptr;         // pages for positions [0, start + tokens.size()) reserved
  std::span<const int32_t> tokens;   // the tokens to compute, at positions start, start+1, ...
  int32_t start = 0;                 // positions [0, start) are already in the cache
  int32_t logits_from = 0;           // rows [logits_from, tokens.size()) get logits;
                                     // tokens.size() = none, tokens.size() - 1 = the last
  int32_t num_logit_rows() const { return static_cast<int32_t>(tokens.size()) - logits_from; }
};

}  // namespace parley
