#include "sampling/sampler.h"

#include <algorithm>
#include <cmath>

#include "base/check.h"

namespace parley {

Status SamplingParams::Validate() const {
  if (!(temperature >= 0.0f) || !std::isfinite(temperature)) {
    return Status::Error("temperature must be a finite number >= 0");
  }
  if (top_k < 0) return Status::Error("top_k must be >= 0");
  if (!(top_p > 0.0f && top_p <= 1.0f)) return Status::Error("top_p must be in (0, 1]");
  return Status::Ok();
}

int32_t ArgMax(std::span<const float> logits) {
  PARLEY_CHECK(!logits.empty());
  return static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
}

int32_t Sampler::Sample(std::span<const float> logits) {
  if (params_.temperature == 0.0f) return ArgMax(logits);
  const int32_t n = static_cast<int32_t>(logits.size());
  candidates_.clear();
  candidates_.reserve(n);
  for (int32_t i = 0; i < n; ++i) candidates_.emplace_back(logits[i] / params_.temperature, i);
  auto by_logit = [](const auto& a, const auto& b) {
    return a.first > b.first || (a.first == b.first && a.second < b.second);
  };
  size_t keep = candidates_.size();
  if (params_.top_k > 0 && static_cast<size_t>(params_.top_k) < keep) keep = params_.top_k;
  // Partially sort what top-k keeps (all of it when only top-p applies).
  std::partial_sort(candidates_.begin(), candidates_.begin() + keep, candidates_.end(), by_logit);
  candidates_.resize(keep);
  const float max_logit = candidates_.front().first;
  double sum = 0.0;
  std::vector<double> probs(keep);
  for (size_t i = 0; i < keep; ++i) {
    probs[i] = std::exp(static_cast<double>(candidates_[i].first - max_logit));
    sum += probs[i];
  }
  if (params_.top_p < 1.0f) {
    double cum = 0.0;
    size_t cut = keep;
    for (size_t i = 0; i < keep; ++i) {
      cum += probs[i] / sum;
      if (cum >= params_.top_p) {
        cut = i + 1;
        break;
      }
    }
    keep = cut;
    sum = 0.0;
    for (size_t i = 0; i < keep; ++i) sum += probs[i];
  }
  double r = std::uniform_real_distribution<double>(0.0, sum)(rng_);
  for (size_t i = 0; i < keep; ++i) {
    r -= probs[i];
    if (r <= 0.0) return candidates_[i].second;
  }
  return candidates_[keep - 1].second;
}

}  // namespace parley
