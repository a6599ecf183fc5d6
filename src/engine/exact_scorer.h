// ExactScorer: the quality canary's exact path (canary.h): a second Transformer over a second
// set of weight views into the same memory-mapped GGUF file, at the file's own types (no int8
// conversion, even when the serving model converted its weights), with f32 activations and a
// private one-sequence f32 KV cache laid out by the model's own sharing map. The views cost
// nothing until touched; scoring pages the file's weights back in. Engine thread only.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "base/thread_pool.h"
#include "engine/canary.h"
#include "model/model.h"
#include "model/sequence_kv.h"
#include "model/transformer.h"

namespace parley {

class ExactScorer : public CanaryScorer {
 public:
  // max_tokens: the longest sequence to score (the serving context); max_chunk: tokens per
  // Forward. REQUIRES: `model` and `pool` outlive the scorer, and nothing else uses `pool`
  // while a Forward runs (the engine thread runs the serving runner and the canary in turn,
  // so they can share its pool). Errors: the file's weights do not resolve.
  static StatusOr<std::unique_ptr<ExactScorer>> Create(const Model& model, ThreadPool* pool, int32_t max_tokens,
                                                       int32_t max_chunk);

  int32_t vocab_size() const override { return config_.vocab_size; }
  int32_t max_tokens() const override { return max_tokens_; }
  int32_t max_chunk() const override { return max_chunk_; }
  int32_t Resume(std::span<const int32_t> tokens) override;
  Status Forward(std::span<const int32_t> tokens, std::vector<float>* logits) override;
  // Frees the sequence's KV and, when the serving model converted its weights to int8, hands
  // the file pages of the weights only this scorer reads back to the kernel (as Model::Load
  // did after the conversion): idle, the canary costs no resident memory.
  void Release() override;

 private:
  ExactScorer(const ModelConfig& config, ModelWeights weights, ThreadPool* pool, int32_t max_tokens,
              int32_t max_chunk);
  void EnsureKv();

  const ModelConfig& config_;
  const ModelWeights weights_;       // views at the file's types (no int8 rows)
  const int32_t max_tokens_, max_chunk_;
  Transformer transformer_;          // over config_ and weights_, f32 activations
  std::unique_ptr<SequenceKv> kv_;   // f32; null after Release until the next use
  std::vector<const WeightView*> private_weights_;  // views the serving model does not read
  std::vector<int32_t> tokens_;      // what kv_ holds
  std::vector<float> no_logits_;
};

// The canary `parley serve` runs: an ExactScorer over `model` (see Create) behind a
// QualityCanary of `rate` with the default queue and slice. Errors: as both Creates.
StatusOr<std::unique_ptr<QualityCanary>> CreateExactCanary(const Model& model, ThreadPool* pool, int32_t max_context,
                                                           double rate, Metrics* metrics);

}  // namespace parley
