#include "spec/prediction.h"

#include <algorithm>

#include "spec/ngram_lookup.h"

namespace parley {
namespace {

// Output tokens matched to find the place again: enough to be unambiguous in text, few
// enough to re-align soon after an edit.
constexpr int32_t kRealignMax = 4;
constexpr int32_t kRealignMin = 2;

}  // namespace

void PredictionAligner::Push(int32_t token) {
  ++seen_;
  recent_.push_back(token);
  if (static_cast<int32_t>(recent_.size()) > kRealignMax) recent_.erase(recent_.begin());
  if (next_ >= 0 && next_ < size() && prediction_[next_] == token) {
    ++next_;
    ++matched_;
    last_aligned_ = next_;
  } else {
    Realign();
  }
}

void PredictionAligner::Observe(std::span<const int32_t> output) {
  while (seen_ < output.size()) Push(output[seen_]);
}

void PredictionAligner::Realign() {
  next_ = -1;
  const int32_t have = static_cast<int32_t>(recent_.size());
  for (int32_t n = have; n >= std::min(kRealignMin, have) && n > 0; --n) {
    const std::span<const int32_t> key = std::span<const int32_t>(recent_).subspan(have - n);
    // Forward of the last place first (an edit usually replaces text, then the rest
    // follows): a match that ends past it, so a run of repeats cannot land where it failed.
    int32_t at = FindNgram(prediction_, key, std::max(0, last_aligned_ - n + 1));
    if (at < 0) at = FindNgram(prediction_, key, 0);
    if (at >= 0) {
      next_ = at;
      last_aligned_ = at;
      return;
    }
  }
}

int32_t PredictionAligner::Draft(int32_t max_draft, std::vector<int32_t>* draft) const {
  if (next_ < 0 || max_draft <= 0) return 0;
  const int32_t take = std::min(max_draft, size() - next_);
  if (take <= 0) return 0;
  draft->insert(draft->end(), prediction_.begin() + next_, prediction_.begin() + next_ + take);
  return take;
}

}  // namespace parley
