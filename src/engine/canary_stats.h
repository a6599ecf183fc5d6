// CanaryStats: the running statistics of the quality canary (canary.h): per scored
// position, |Δ logprob| between the fast path and the exact path for the chosen token, and
// whether their top-1 tokens disagree. The mean and the disagreement rate are exact over
// every position; p99 comes from a bounded uniform sample (reservoir sampling, Algorithm R,
// with a fixed seed, so results are reproducible). Not thread-safe.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

namespace parley {

class CanaryStats {
 public:
  // reservoir: positions kept for quantiles (>= 1).
  explicit CanaryStats(int32_t reservoir = 4096, uint64_t seed = 1);

  // One scored position.
  void Add(double abs_delta, bool top1_disagrees);

  int64_t positions() const { return positions_; }
  int64_t disagreements() const { return disagreements_; }
  double sum_abs_delta() const { return sum_abs_delta_; }
  // 0 when nothing was scored.
  double mean_abs_delta() const;
  double disagreement_rate() const;
  // The q-quantile (0 <= q <= 1) of |Δ| over the sample, by the nearest-rank method
  // (the smallest sampled value with at least q of the sample at or below it).
  double Quantile(double q) const;
  double max_abs_delta() const { return max_abs_delta_; }

 private:
  size_t capacity_;
  std::mt19937_64 rng_;
  std::vector<double> sample_;
  int64_t positions_ = 0;
  int64_t disagreements_ = 0;
  double sum_abs_delta_ = 0;
  double max_abs_delta_ = 0;
};

}  // namespace parley
