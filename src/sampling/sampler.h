// Sampler: picks the next token from a row of logits. Greedy when temperature is 0;
// otherwise temperature, then top-k, then top-p over the softmax, drawn with a seeded
// generator so the same seed and inputs give the same tokens. One Sampler per sequence;
// not thread-safe.
#pragma once

#include <cstdint>
#include <random>
#include <span>
#include <vector>

#include "base/status.h"

namespace parley {

struct SamplingParams {
  float temperature = 0.0f;  // 0: greedy (argmax)
  int32_t top_k = 0;         // 0: no limit
  float top_p = 1.0f;        // 1: no nucleus cut
  uint64_t seed = 0;

  // Error on out-of-range values (negative temperature, top_p outside (0, 1], ...).
  Status Validate() const;
};

class Sampler {
 public:
  explicit Sampler(const SamplingParams& params) : params_(params), rng_(params.seed) {}
  // REQUIRES: logits non-empty.
  int32_t Sample(std::span<const float> logits);

 private:
  SamplingParams params_;
  std::mt19937_64 rng_;
  std::vector<std::pair<float, int32_t>> candidates_;
};

// Index of the largest logit (the lowest index on ties).
int32_t ArgMax(std::span<const float> logits);

}  // namespace parley
