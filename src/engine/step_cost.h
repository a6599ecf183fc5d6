// StepCostModel: predicts how long one engine step takes from its shape, learned online
// from the steps the engine actually ran (Sarathi-Serve's stall-free batching needs this:
// a step's prefill share is whatever keeps the step within the inter-token-latency target).
//
//   seconds ≈ c0 + c1 · tokens + c2 · attention pairs
//
// where `tokens` are the rows of the ragged batch (every weight is read once per step, so
// c0 is large on a CPU: the decode floor) and `attention pairs` is Σ over the batch's
// sequences of (query rows × keys each row sees), the part that grows with context. The
// coefficients are a least-squares fit over the last `window` steps, kept non-negative.
// Owned by the engine thread; not thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace parley {

struct StepShape {
  int32_t tokens = 0;
  double attention_pairs = 0;  // Σ rows × keys seen

  // Adds one sequence's chunk: rows [start, start + n) each see every key up to itself.
  void Add(int32_t start, int32_t n);
};

class StepCostModel {
 public:
  explicit StepCostModel(int32_t window = 256);

  void Observe(const StepShape& shape, double seconds);
  // Seconds; 0 before any observation.
  double Predict(const StepShape& shape) const;
  // Enough steps seen to plan with (at least `kMinSteps`).
  bool ready() const { return num_seen_ >= kMinSteps; }
  // The largest step (in tokens) seen so far: plans stay within twice this, so the model
  // never extrapolates far beyond what it has measured.
  int32_t max_tokens_seen() const { return max_tokens_seen_; }
  int64_t num_seen() const { return num_seen_; }
  // The fitted terms in seconds: per step, per token, per attention pair.
  double base_seconds() const;
  double token_seconds() const;
  double pair_seconds() const;

  static constexpr int32_t kMinSteps = 8;

 private:
  struct Sample {
    double x[3];
    double seconds;
  };
  void Refit();

  int32_t window_;
  std::vector<Sample> samples_;  // a ring of the last `window_` steps
  size_t next_ = 0;
  int64_t num_seen_ = 0;
  int32_t max_tokens_seen_ = 0;
  double coef_[3] = {0, 0, 0};
};

}  // namespace parley
