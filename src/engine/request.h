// What a client asks the engine for (GenerationRequest) and what comes back
// (EngineEvent), plus RequestStream: the one object shared between the engine thread
// (producer) and the thread serving the client (consumer). RequestStream is thread-safe;
// the rest are plain values.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "sampling/sampler.h"

namespace parley {

// The most choices one request may ask for (OpenAI `n`).
inline constexpr int32_t kMaxChoices = 16;

struct GenerationRequest {
  std::vector<int32_t> prompt;          // token ids (templated and tokenized by the caller)
  SamplingParams sampling;
  // Choices (OpenAI `n`, 1..kMaxChoices): continuations of the one prompt, each with its own
  // stream; choice j samples with seed sampling.seed + j (mod 2^64).
  int32_t n = 1;
  int32_t max_tokens = 256;             // >= 0; 0 only makes sense with prompt_logprobs
  std::vector<std::string> stop;        // stop strings: generation ends before them
  std::vector<int32_t> stop_token_ids;  // extra ids that end generation (not in the output)
  bool ignore_eos = false;              // do not stop at the model's end-of-turn tokens
  int32_t logprobs = -1;                // -1: none; n >= 0: each token's logprob + top n
  bool prompt_logprobs = false;         // logprobs of every prompt token (completions echo)
  // Prompt scoring (`parley perplexity`): > 0 asks for the log-probability of each prompt
  // token from this index on (1 <= from < prompt size), as a double in
  // EngineEvent::prompt_scores, from the model's raw logits, with the prompt computed in the
  // engine's own prefill chunks from an empty cache: only for an engine without a prefix
  // cache, not with prompt_logprobs, and with n == 1. 0: off.
  int32_t score_prompt_from = 0;
  std::string session_id;               // X-Session-Id / `user`: logged, used for routing
  // OpenAI Predicted Outputs: tokens the output is expected to mostly repeat (e.g. a document
  // being edited); drafted for speculative decoding when the engine speculates. Never changes
  // the output.
  std::vector<int32_t> prediction;
};

enum class FinishReason { kNone, kStop, kLength, kCancelled, kError };
const char* FinishReasonName(FinishReason reason);  // "stop", "length", "cancelled", "error"

struct Usage {
  int32_t prompt_tokens = 0;
  int32_t completion_tokens = 0;
  int32_t cached_tokens = 0;  // prompt tokens whose K/V came from a cache, not computed
  // Speculative decoding: tokens drafted and verified for this choice and those kept; output
  // tokens the request's prediction had next where they came (OpenAI's
  // accepted_prediction_tokens), and drafted prediction tokens verification rejected
  // (rejected_prediction_tokens: computed, not used). All 0 when the engine does not speculate.
  int32_t draft_tokens = 0;
  int32_t draft_accepted = 0;
  int32_t prediction_accepted = 0;
  int32_t prediction_rejected = 0;
};

// One batch of progress for one request. Events arrive in order; the last one has
// finish != kNone.
struct EngineEvent {
  std::string text;                   // new output text (UTF-8 complete; stop strings cut)
  std::vector<int32_t> tokens;        // new generated token ids
  std::vector<TokenLogprob> logprobs; // one per entry of `tokens` when requested
  // Only in the first event of a request that asked prompt_logprobs: one per prompt token
  // after the first (tokens 1..n-1; the first token has no logprob), in order.
  std::vector<TokenLogprob> prompt_logprobs;
  // Likewise for score_prompt_from: one per prompt token from that index on, in order
  // (PromptTokenScore).
  std::vector<double> prompt_scores;
  FinishReason finish = FinishReason::kNone;
  std::string error;                  // finish == kError: what went wrong
  Usage usage;                        // filled in the final event
  double ttft_seconds = 0;            // final event: submit -> first token
};

// The channel of one request. The engine pushes events; the client pops them.
class RequestStream {
 public:
  explicit RequestStream(int64_t id) : id_(id), created_(std::chrono::steady_clock::now()) {}
  int64_t id() const { return id_; }
  std::chrono::steady_clock::time_point created() const { return created_; }

  // Engine side.
  void Push(EngineEvent event);
  bool cancelled() const;

  // Client side. Waits up to `timeout` for the next event; nullopt on timeout. After the
  // final event (finish != kNone) nothing more arrives.
  std::optional<EngineEvent> Next(std::chrono::milliseconds timeout);
  // Asks the engine to stop this request (client gone, or it no longer wants it); the
  // engine frees its pages at its next step and pushes a final kCancelled event.
  void Cancel();

 private:
  const int64_t id_;
  const std::chrono::steady_clock::time_point created_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<EngineEvent> events_;
  bool cancelled_ = false;
};

}  // namespace parley
