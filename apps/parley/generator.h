// Generator: the command-line tools' synchronous facade over the serving engine. `run`
// and `chat` submit one request at a time to an Engine (one running sequence, its prefix
// cache on) and wait for its events, so they share the engine's validation, sampling,
// detokenizing, stop strings, logprobs and cached-prefix reuse (a chat turn computes only
// the pages that are new) instead of driving the forward pass themselves. `perplexity`
// scores prompts through it (ScorePrompt, prefix cache off) and `bench-model` times
// requests it submits several at a time (Submit, max_seqs running together).
#pragma once

#include <functional>
#include <memory>

#include "common.h"
#include "engine/engine.h"
#include "engine/transformer_runner.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"

namespace parley {

struct GeneratorOptions {
  int32_t context = 4096;       // prompt + generated tokens
  int32_t threads = 1;
  int32_t batch_tokens = 512;   // tokens computed per forward pass (prefill chunk)
  ActivationMode mode = ActivationMode::kF32;
  KvDtype kv_dtype = KvDtype::kF32;
  int32_t max_seqs = 1;         // requests running at once (and waiting: as many)
  bool prefix_cache = true;     // off: every request is computed from an empty cache
};

struct GenerationStats {
  int32_t prompt_tokens = 0;     // tokens of the prompt
  int32_t computed_prompt = 0;   // prompt tokens actually computed (the rest came from the prefix cache)
  int32_t generated = 0;
  double prompt_seconds = 0;     // submit -> first token
  double generate_seconds = 0;   // first token -> end
  FinishReason finish = FinishReason::kNone;
  bool context_full = false;     // stopped because the context had no room left
};

class Generator {
 public:
  // REQUIRES: model and tokenizer outlive the generator.
  static StatusOr<std::unique_ptr<Generator>> Create(const Model& model, const Tokenizer& tokenizer,
                                                     const GeneratorOptions& options);
  ~Generator();

  // Runs one request to its end. `on_event` sees every event (text deltas, token ids,
  // logprobs; the last one carries finish and usage); return false from it to stop (the
  // request is cancelled, the output so far stands). Errors: the engine's validation
  // (sampling values, empty or over-long prompt) and failed forward passes.
  StatusOr<GenerationStats> Generate(GenerationRequest request,
                                     const std::function<bool(const EngineEvent&)>& on_event);

  // Computes `prompt` from an empty cache and returns the log-probability of each of its
  // tokens from index `from` on (GenerationRequest::score_prompt_from). InvalidArgument
  // with the prefix cache on, or `from` outside [1, prompt size).
  StatusOr<std::vector<double>> ScorePrompt(std::vector<int32_t> prompt, int32_t from);

  // Queues a request and returns its stream, for a caller that runs several at once (up
  // to max_seqs run together) and reads their events itself.
  StatusOr<std::shared_ptr<RequestStream>> Submit(GenerationRequest request) {
    return engine_->Submit(std::move(request));
  }

  int32_t context() const { return options_.context; }
  int32_t threads() const { return options_.threads; }

 private:
  Generator(const Model& model, const GeneratorOptions& options);

  GeneratorOptions options_;
  TransformerRunner runner_;
  std::unique_ptr<Engine> engine_;
};

// The numerics, context, batch and threads a command's model options chose.
// InvalidArgument: a bad --kv-dtype.
StatusOr<GeneratorOptions> GeneratorOptionsFrom(const ModelOptions& opts);
// A Generator with those options.
StatusOr<std::unique_ptr<Generator>> CreateGenerator(const Model& model, const Tokenizer& tokenizer,
                                                     const ModelOptions& opts);

}  // namespace parley
