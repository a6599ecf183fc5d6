#include "spec/drafter.h"

#include <algorithm>
#include <cmath>

namespace parley {
namespace {

constexpr double kDecay = 0.8;     // per verification: the last ~5 dominate
constexpr double kFade = 0.97;     // per step without a draft
constexpr double kPriorWeight = 2;  // the prior counts as this many observations

}  // namespace

const char* DraftSourceName(DraftSource s) {
  switch (s) {
    case DraftSource::kNone: return "none";
    case DraftSource::kPrediction: return "prediction";
    case DraftSource::kHistory: return "history";
    case DraftSource::kPool: return "pool";
  }
  return "none";
}

void AcceptanceEstimate::Update(int32_t drafted, int32_t accepted) {
  accepted_ = kDecay * accepted_ + accepted;
  rejected_ = kDecay * rejected_ + (accepted < drafted ? 1 : 0);
}

void AcceptanceEstimate::Fade() {
  accepted_ *= kFade;
  rejected_ *= kFade;
}

double AcceptanceEstimate::rate() const {
  return (accepted_ + kPriorWeight * prior_) / (accepted_ + rejected_ + kPriorWeight);
}

int32_t DraftLength(double rate, double threshold, int32_t max_draft) {
  int32_t k = 0;
  double p = rate;
  while (k < max_draft && p > threshold) {
    ++k;
    p *= rate;
  }
  return k;
}

SequenceDrafter::SequenceDrafter(std::vector<int32_t> prediction, const DrafterOptions& options)
    : options_(options),
      prediction_(std::move(prediction)),
      // A prediction is text the client expects back; a repeat in the history or the pool is
      // a guess.
      estimates_{AcceptanceEstimate(0), AcceptanceEstimate(0.9), AcceptanceEstimate(0.6), AcceptanceEstimate(0.5)} {}

DraftSource SequenceDrafter::Propose(std::span<const int32_t> tokens, const NgramPool* pool, double threshold,
                                     int32_t max_draft, std::vector<int32_t>* draft) {
  draft->clear();
  // Each source's draft, as long as its acceptance makes worthwhile; the one expected to
  // keep the most tokens (sum over j of rate^j) wins.
  DraftSource chosen = DraftSource::kNone;
  double best = 0;
  std::vector<int32_t> candidate;
  auto consider = [&](DraftSource s, auto&& fill) {
    const double rate = estimates_[static_cast<int>(s)].rate();
    const int32_t k = DraftLength(rate, threshold, max_draft);
    candidate.clear();
    if (k <= 0 || fill(k) <= 0) return;
    double expected = 0, p = 1;
    for (size_t j = 0; j < candidate.size(); ++j) expected += (p *= rate);
    if (expected > best) {
      best = expected;
      chosen = s;
      draft->swap(candidate);
    }
  };
  if (!prediction_.empty()) {
    consider(DraftSource::kPrediction, [&](int32_t k) { return prediction_.Draft(k, &candidate); });
  }
  if (options_.history) {
    consider(DraftSource::kHistory, [&](int32_t k) { return LookupNgramDraft(tokens, options_.lookup, k, &candidate); });
  }
  if (pool != nullptr) {
    consider(DraftSource::kPool, [&](int32_t k) { return pool->Lookup(tokens, k, &candidate); });
  }
  // Sources not drafting this step let old evidence fade, so one judged poor is tried again.
  for (int s = 1; s < kNumDraftSources; ++s) {
    if (s != static_cast<int>(chosen)) estimates_[s].Fade();
  }
  return chosen;
}

void SequenceDrafter::Feedback(DraftSource source, int32_t drafted, int32_t accepted) {
  if (source == DraftSource::kNone || drafted <= 0) return;
  estimates_[static_cast<int>(source)].Update(drafted, accepted);
}

}  // namespace parley
