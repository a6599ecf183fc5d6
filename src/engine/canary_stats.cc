#include "engine/canary_stats.h"

#include <algorithm>
#include <cmath>

#include "base/check.h"

namespace parley {

CanaryStats::CanaryStats(int32_t reservoir, uint64_t seed)
    : capacity_(static_cast<size_t>(std::max(1, reservoir))), rng_(seed) {
  sample_.reserve(capacity_);
}

void CanaryStats::Add(double abs_delta, bool top1_disagrees) {
  ++positions_;
  if (top1_disagrees) ++disagreements_;
  sum_abs_delta_ += abs_delta;
  max_abs_delta_ = std::max(max_abs_delta_, abs_delta);
  if (sample_.size() < capacity_) {
    sample_.push_back(abs_delta);
    return;
  }
  // Algorithm R: the n-th value replaces a random slot with probability capacity / n, so
  // every value seen so far is in the sample with the same probability.
  std::uniform_int_distribution<int64_t> pick(0, positions_ - 1);
  const int64_t slot = pick(rng_);
  if (slot < static_cast<int64_t>(capacity_)) sample_[slot] = abs_delta;
}

double CanaryStats::mean_abs_delta() const {
  return positions_ == 0 ? 0.0 : sum_abs_delta_ / static_cast<double>(positions_);
}

double CanaryStats::disagreement_rate() const {
  return positions_ == 0 ? 0.0 : static_cast<double>(disagreements_) / static_cast<double>(positions_);
}

double CanaryStats::Quantile(double q) const {
  PARLEY_CHECK(q >= 0 && q <= 1) << q;
  if (sample_.empty()) return 0.0;
  std::vector<double> sorted = sample_;
  const size_t n = sorted.size();
  const size_t rank = std::max<size_t>(1, static_cast<size_t>(std::ceil(q * static_cast<double>(n))));
  std::nth_element(sorted.begin(), sorted.begin() + (rank - 1), sorted.end());
  return sorted[rank - 1];
}

}  // namespace parley
