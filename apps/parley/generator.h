// Generator: one sequence on one model for the command-line tools. It owns the compute
// state (thread pool, transformer scratch, the sequence's KV) and reuses the cached
// prefix between calls, so a chat turn only computes the tokens that are new.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <vector>

#include "base/thread_pool.h"
#include "model/model.h"
#include "model/sequence_kv.h"
#include "model/transformer.h"
#include "sampling/sampler.h"
#include "tokenizer/tokenizer.h"

namespace parley {

struct GenerationStats {
  int32_t prompt_tokens = 0;     // tokens of the prompt
  int32_t computed_prompt = 0;   // prompt tokens actually computed (the rest were cached)
  int32_t generated = 0;
  int32_t decode_steps = 0;      // forward passes after the prompt (one per fed-back token)
  double prompt_seconds = 0;
  double generate_seconds = 0;
  bool stopped_by_eog = false;
  bool context_full = false;      // stopped because the context had no room left
};

class Generator {
 public:
  Generator(const Model& model, const Tokenizer& tokenizer, int32_t context, int32_t threads,
            ActivationMode mode = ActivationMode::kF32);

  // Generates up to `max_tokens` after `prompt`. Reuses the longest cached prefix of the
  // previous calls' tokens. `on_token(id)` sees every generated token (the end-of-turn
  // one included); return false from it to stop. Stops at an end-of-generation token
  // unless ignore_eog.
  StatusOr<GenerationStats> Generate(const std::vector<int32_t>& prompt, int32_t max_tokens,
                                     const SamplingParams& sampling, bool ignore_eog,
                                     const std::function<bool(int32_t)>& on_token);

  // The checks Generate makes before computing anything: valid sampling parameters, a
  // non-empty prompt that leaves room for at least one generated token.
  Status CheckRequest(const std::vector<int32_t>& prompt, const SamplingParams& sampling) const;

  int32_t context() const { return kv_.max_tokens(); }
  int32_t batch_tokens() const { return batch_tokens_; }
  // Tokens computed per forward pass; resets the cached prefix (the KV is sized for it).
  void set_batch_tokens(int32_t n) { set_kv(n, kv_dtype_); }
  // The same, and the KV cache's element type.
  void set_kv(int32_t batch_tokens, KvDtype dtype);

 private:
  // Computes tokens_[kv_.num_tokens(), end) in batches; leaves logits of the last.
  Status Compute(size_t end);

  const Model& model_;
  const Tokenizer& tokenizer_;
  ThreadPool pool_;
  Transformer transformer_;
  SequenceKv kv_;
  std::vector<int32_t> tokens_;  // tokens whose K/V are in kv_ (plus pending ones)
  std::vector<float> logits_;
  int32_t batch_tokens_ = 512;
  KvDtype kv_dtype_ = KvDtype::kF32;
};

}  // namespace parley
