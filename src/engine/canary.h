// QualityCanary: an online check of the fast path (int8 weights / activations, int8 KV,
// ...) against the exact path. A share of requests records, at sampling time, the fast
// path's log-probability and top-1 token for each generated token; when such a request
// finishes, its tokens are re-scored teacher-forced by an exact scorer, off the hot path: the
// engine runs one bounded slice of canary work only in steps where it has nothing
// scheduled. Both sides use the same definition: ComputeLogprob (log-softmax of the raw
// logits, before penalties and temperature) and ArgMax (sampling/sampler.h). Results go to
// /metrics (parley_canary_*). Engine thread only; the Metrics it writes are thread-safe.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "base/status.h"
#include "engine/canary_stats.h"
#include "engine/metrics.h"

namespace parley {

// The seam to the exact model: one private sequence, computed teacher-forced in chunks.
// ExactScorer (exact_scorer.h) is the real one; tests use fakes.
class CanaryScorer {
 public:
  virtual ~CanaryScorer() = default;
  virtual int32_t vocab_size() const = 0;
  virtual int32_t max_tokens() const = 0;  // positions the sequence can hold
  virtual int32_t max_chunk() const = 0;   // most tokens one Forward may take
  // Keeps the longest prefix of `tokens` the sequence already holds (and can rewind to),
  // drops the rest, and returns that prefix's length: the positions not to compute again.
  virtual int32_t Resume(std::span<const int32_t> tokens) = 0;
  // Computes `tokens` at the sequence's next positions. With `logits`, writes one row per
  // token: [tokens, vocab]. Errors leave the sequence unchanged.
  virtual Status Forward(std::span<const int32_t> tokens, std::vector<float>* logits) = 0;
  // The canary has no work left: give back memory only scoring needs (the sequence may be
  // forgotten; Resume then returns 0).
  virtual void Release() {}
};

// What the fast path saw for each token it generated in one request.
struct CanaryRecord {
  std::vector<int32_t> tokens;   // the generated tokens
  std::vector<float> logprobs;   // ComputeLogprob(raw logits, token).logprob
  std::vector<int32_t> argmax;   // ArgMax(raw logits)
  // Records the token picked from `logits` (the raw row, as the sampler received it).
  void Record(std::span<const float> logits, int32_t token);
};

struct CanaryOptions {
  double rate = 0.02;         // share of requests re-scored, in [0, 1]
  int32_t max_pending = 8;    // jobs queued (the one in progress included); more are dropped
  int32_t slice_tokens = 64;  // tokens computed per idle step
  int32_t score_tokens = 16;  // ... when they need logits ([score_tokens, vocab] floats)
  int32_t reservoir = 4096;   // positions kept for p99
};

class QualityCanary {
 public:
  // Errors (InvalidArgument): rate outside [0, 1], max_pending, slice_tokens or
  // score_tokens < 1.
  // REQUIRES: metrics outlives the canary.
  static StatusOr<std::unique_ptr<QualityCanary>> Create(std::unique_ptr<CanaryScorer> scorer,
                                                         Metrics* metrics, const CanaryOptions& options);

  // Whether the next request should record a CanaryRecord: a deterministic counter picks
  // floor(n * rate) of the first n requests.
  bool Select();
  // Queues a finished request's job (prompt + what the fast path generated), or drops it
  // when max_pending jobs wait. Jobs without generated tokens are ignored.
  void Submit(std::span<const int32_t> prompt, CanaryRecord fast);
  bool has_work() const { return !jobs_.empty(); }
  // Runs one Forward of at most slice_tokens (score_tokens when they need logits) of the
  // oldest job; after the last job, lets the scorer release its memory. REQUIRES has_work().
  void RunSlice();

  const CanaryStats& stats() const { return stats_; }
  int64_t requests_scored() const { return requests_scored_; }
  int64_t dropped() const { return dropped_; }
  const CanaryOptions& options() const { return options_; }

 private:
  struct Job {
    std::vector<int32_t> tokens;  // prompt + generated
    int32_t num_prompt = 0;
    CanaryRecord fast;
    int32_t next = -1;            // next position to compute; -1: not started
  };
  QualityCanary(std::unique_ptr<CanaryScorer> scorer, Metrics* metrics, const CanaryOptions& options);
  void Drop(const char* reason);
  void Score(const Job& job, int32_t first_pos, std::span<const float> logits);
  void PopJob();
  void Publish();

  std::unique_ptr<CanaryScorer> scorer_;
  Metrics* metrics_;
  const CanaryOptions options_;
  int64_t num_seen_ = 0;  // requests offered to Select()
  std::deque<Job> jobs_;
  std::vector<float> logits_;
  CanaryStats stats_;
  int64_t requests_scored_ = 0;
  int64_t dropped_ = 0;
};

}  // namespace parley
