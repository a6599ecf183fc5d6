// SequenceDrafter: proposes the draft tokens one sequence verifies in its next step, from
// three sources: the request's predicted output (Predicted Outputs), the sequence's own tokens
// (prompt lookup over the whole conversation), and the engine's shared n-gram pool. Each
// source's draft is as long as its acceptance here makes worthwhile against the price of a
// drafted token in this batch (`threshold`, see DraftLength); the draft expected to keep the
// most tokens is proposed.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "spec/ngram_lookup.h"
#include "spec/ngram_pool.h"
#include "spec/prediction.h"

namespace parley {

enum class DraftSource { kNone, kPrediction, kHistory, kPool };
inline constexpr int kNumDraftSources = 4;
const char* DraftSourceName(DraftSource s);  // "none", "prediction", "history", "pool"

// The chance that a source's next drafted token is accepted given the one before it was,
// estimated from recent verifications (decaying counts over a prior).
class AcceptanceEstimate {
 public:
  explicit AcceptanceEstimate(double prior = 0.5) : prior_(prior) {}
  // A verification of `drafted` tokens accepted the first `accepted`.
  void Update(int32_t drafted, int32_t accepted);
  // A step this source did not draft: old evidence fades, so a source judged poor is tried
  // again after a while (it may have improved).
  void Fade();
  double rate() const;

 private:
  double prior_;
  double accepted_ = 0;  // decayed count of accepted tokens
  double rejected_ = 0;  // decayed count of verifications that rejected a token
};

// Tokens worth drafting at acceptance rate `rate`: the largest k <= max_draft with
// rate^k > threshold. The k-th drafted token is kept only if all before it are (chance
// rate^k) and costs the step `threshold` of a token's worth of the batch's throughput:
// with a batch of B decodes whose step takes T seconds and m seconds more per extra token,
// a token kept with chance p raises throughput iff p > B*m/T (the engine's threshold).
int32_t DraftLength(double rate, double threshold, int32_t max_draft);

struct DrafterOptions {
  bool history = true;  // prompt lookup over the sequence's own tokens
  NgramLookupOptions lookup;
};

class SequenceDrafter {
 public:
  SequenceDrafter(std::vector<int32_t> prediction, const DrafterOptions& options);

  // The next output token (every one, in order).
  void Accept(int32_t token) {
    if (!prediction_.empty()) prediction_.Push(token);
  }
  // OpenAI's accepted_prediction_tokens: output tokens the prediction had next.
  int32_t prediction_matched() const { return prediction_.matched(); }
  // Fills *draft (cleared first) for the next step and returns its source (kNone: nothing
  // worth drafting). `pool` may be null. On ties the earlier source wins: prediction,
  // history, pool.
  DraftSource Propose(std::span<const int32_t> tokens, const NgramPool* pool, double threshold, int32_t max_draft,
                      std::vector<int32_t>* draft);
  // The verification of the last proposal from `source`: `accepted` of `drafted` kept.
  void Feedback(DraftSource source, int32_t drafted, int32_t accepted);
  const AcceptanceEstimate& estimate(DraftSource s) const { return estimates_[static_cast<int>(s)]; }
  bool has_prediction() const { return !prediction_.empty(); }

 private:
  DrafterOptions options_;
  PredictionAligner prediction_;
  AcceptanceEstimate estimates_[kNumDraftSources];
};

}  // namespace parley
