// Sampler: picks the next token from a row of logits. The order (llama.cpp / vLLM style):
// logit bias -> penalties over the sequence's tokens -> greedy if temperature is 0 ->
// temperature -> top-k -> top-p -> min-p -> a draw from a per-sequence generator seeded by
// `seed`, so the same seed and inputs give the same tokens whatever else runs in the batch.
// One Sampler per sequence; not thread-safe.
#pragma once

#include <cstdint>
#include <random>
#include <span>
#include <unordered_map>
#include <utility>
#include <vector>

#include "base/status.h"

namespace parley {

struct SamplingParams {
  float temperature = 0.0f;        // 0: greedy (argmax)
  int32_t top_k = 0;               // 0: no limit
  float top_p = 1.0f;              // 1: no nucleus cut
  float min_p = 0.0f;              // drop tokens with p < min_p * p_max; 0: off
  float repetition_penalty = 1.0f; // CTRL-style: logit / rp if > 0 else logit * rp; 1: off
  float presence_penalty = 0.0f;   // OpenAI: minus this once per token that appeared
  float frequency_penalty = 0.0f;  // OpenAI: minus this times the token's count
  uint64_t seed = 0;
  // OpenAI's logit_bias: (token, bias) added to the token's logit before anything else;
  // -100 all but bans a token, +100 all but forces it. Ids outside the row are skipped
  // (the engine rejects them at submit).
  std::vector<std::pair<int32_t, float>> logit_bias;

  // InvalidArgument on out-of-range values, naming the parameter: temperature >= 0 and
  // finite, top_k >= 0, top_p in (0, 1], min_p in [0, 1], repetition_penalty > 0,
  // presence/frequency penalties in [-2, 2], logit_bias: at most kMaxLogitBias entries,
  // ids >= 0, biases in [-100, 100].
  Status Validate() const;
  static constexpr size_t kMaxLogitBias = 1024;
  static constexpr float kMaxBias = 100.0f;
  bool has_penalties() const {
    return repetition_penalty != 1.0f || presence_penalty != 0.0f || frequency_penalty != 0.0f;
  }
};

// The log-probability of one token, with the most likely alternatives.
struct TokenLogprob {
  int32_t token = 0;
  float logprob = 0.0f;
  std::vector<std::pair<int32_t, float>> top;  // the `top_n` most likely, best first
};

class Sampler {
 public:
  explicit Sampler(const SamplingParams& params) : params_(params), rng_(params.seed) {}
  // Picks a token from `logits` [vocab]. Penalties see the tokens passed to Accept().
  // REQUIRES: logits non-empty.
  int32_t Sample(std::span<const float> logits);
  // The log-probability of `token` and the top_n alternatives (see ComputeLogprob) in the
  // distribution after the logit bias but before penalties and temperature. A choice:
  // OpenAI documents the bias as added "prior to sampling" and says nothing of logprobs;
  // reporting the biased distribution keeps them consistent with the output (a forced
  // token reports a logprob near 0, a banned one never shows among the alternatives).
  // Without a bias this is the model's raw distribution, as vLLM reports it.
  TokenLogprob Logprob(std::span<const float> logits, int32_t token, int32_t top_n);
  // Records a token of the sequence for the penalties (prompt tokens count for the
  // repetition penalty only, as in vLLM; generated ones for all three).
  void AcceptPrompt(std::span<const int32_t> tokens);
  void Accept(int32_t token);

 private:
  // `logits` with the bias added (a copy in biased_), or `logits` itself when there is none.
  std::span<const float> Biased(std::span<const float> logits);

  SamplingParams params_;
  std::mt19937_64 rng_;
  std::vector<std::pair<float, int32_t>> candidates_;
  std::vector<float> biased_;                      // logits after the bias
  std::vector<float> penalized_;                   // logits after bias and penalties
  std::unordered_map<int32_t, int32_t> counts_;    // generated token -> count
  std::unordered_map<int32_t, bool> seen_prompt_;  // prompt tokens (repetition penalty)
};

// Index of the largest logit (the lowest index on ties).
int32_t ArgMax(std::span<const float> logits);

// log_softmax(logits)[token] and the top_n alternatives (0 <= top_n <= 20), from a row of
// logits as given (the model's distribution, before any sampling transform, as vLLM
// reports it).
TokenLogprob ComputeLogprob(std::span<const float> logits, int32_t token, int32_t top_n);

}  // namespace parley
