// Sequence: what the scheduler knows of one request, in the counter model of vLLM v1:
// `tokens` (prompt + generated so far) and `num_computed` (tokens whose K/V are in the
// cache). Prefill, chunked prefill, a cache hit, decode and recompute after preemption are
// all "compute tokens [num_computed, num_tokens())". Owned by the engine thread.
#pragma once

#include <cstdint>
#include <vector>

#include "prefix_cache/kv_manager.h"

namespace parley {

enum class SeqState { kWaiting, kRunning, kFinished };

struct Sequence {
  int64_t id = 0;
  std::vector<int32_t> tokens;  // prompt, then generated tokens
  int32_t num_prompt = 0;
  int32_t num_computed = 0;
  int32_t max_chunk = 0;        // most tokens computed per step; 0: no limit
  KvHandle kv;                  // its KV pages (opaque: the scheduler's KvManager reads them)
  SeqState state = SeqState::kWaiting;
  int32_t num_preemptions = 0;
  int32_t num_cached = -1;      // prompt tokens the prefix cache supplied at first admission; -1: not admitted yet
  int32_t num_cached_host = 0;  // of those, tokens restored from the host tier
  int32_t num_cached_disk = 0;  // ... from the disk tier
  int64_t enqueued_step = 0;    // the scheduler step it (re)joined the waiting queue
  // Seats (of max_seqs) held for sequences that will Fork from this one once its prompt is
  // computed (the other choices of an `n` request); the engine zeroes it after forking.
  int32_t fork_seats = 0;
  // Speculative decoding: tokens proposed to follow `tokens`, verified in the next decode step
  // (computed with it in one forward pass, each kept only if the model's own choice equals
  // it). Never part of `tokens`; cleared when the sequence is preempted.
  std::vector<int32_t> draft;

  int32_t num_tokens() const { return static_cast<int32_t>(tokens.size()); }
  int32_t num_pending() const { return num_tokens() - num_computed; }
};

}  // namespace parley
