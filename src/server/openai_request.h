// OpenAI request bodies -> Parley requests: JSON parsing and validation of
// /v1/chat/completions, /v1/completions, /tokenize and /detokenize. Every field is
// type-checked; a failure is an InvalidArgument Status whose message a client can act on,
// plus the name of the offending parameter. Fields Parley does not implement are refused
// where they would change the output (refused_params.h); other unknown fields are ignored.
// Pure functions of their inputs; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/status.h"
#include "engine/request.h"
#include "tokenizer/chat_template.h"

namespace parley {

// Server-wide bounds the parser checks requests against.
struct RequestLimits {
  int32_t max_tokens_limit = 4096;  // largest max_tokens a request may ask for
  int32_t vocab_size = 0;           // token-id prompts must be in [0, vocab_size); 0: unchecked
  int32_t max_prompts = 64;         // /v1/completions: prompts (times n: choices) per request
  int32_t max_stop = 16;            // stop strings per request
  int32_t max_stop_bytes = 1024;    // bytes per stop string (the stream holds back that much)
  int32_t max_messages = 2048;      // /v1/chat/completions: messages per request
  int32_t max_content_parts = 256;  // ... and content parts per message
  int32_t max_name_bytes = 256;     // `model` and `user` (the session id)
  int32_t max_prediction_bytes = 256 * 1024;  // /v1/chat/completions: `prediction` text
  // What a request that omits temperature / top_p / top_k / min_p samples with (`parley serve
  // --temp --top-k --top-p --min-p`). The struct's own default is OpenAI's (temperature 1, no
  // cuts); the server's are llama-server's (0.8, 40, 0.95, 0.05), which keep a small model's
  // replies coherent. Only those four fields are read.
  SamplingParams sampling_defaults = OpenAiSamplingDefaults();
  static SamplingParams OpenAiSamplingDefaults() {
    SamplingParams s;
    s.temperature = 1.0f;
    return s;
  }
};

// Fields both generation endpoints share. `generation.prompt` is left empty: the handler
// renders and tokenizes. `generation.sampling.seed` is only meaningful if `seed_given`.
struct GenerationFields {
  std::string model;  // "" when absent
  GenerationRequest generation;
  bool seed_given = false;
  bool max_tokens_given = false;
  bool stream = false;
  bool include_usage = false;  // stream_options.include_usage
  std::string user;
};

struct ChatRequest : GenerationFields {
  std::vector<ChatMessage> messages;  // roles: system, user, assistant ("developer" -> system)
  bool logprobs = false;              // generation.logprobs = top_logprobs when set
  std::string prediction;             // Predicted Outputs text ("" when absent); tokenized by the handler
};

// One prompt of /v1/completions: text (tokenized by the server) or token ids.
struct PromptInput {
  bool is_text = true;
  std::string text;
  std::vector<int32_t> tokens;
};

struct CompletionRequest : GenerationFields {
  std::vector<PromptInput> prompts;  // generation.n choices each, in order
  bool echo = false;
  int32_t logprobs = -1;  // -1: none; else the number of alternatives (0..20)
};

struct TokenizeRequest {
  std::string content;
  bool add_special = false;
};

// How deep a request body may nest arrays and objects (a request needs 5 levels; deeper
// nesting is refused before parsing, so a body of brackets cannot make a huge tree).
inline constexpr int32_t kMaxJsonDepth = 32;

// Parses `body` as a JSON object. InvalidArgument for malformed JSON, a non-object, or
// nesting deeper than kMaxJsonDepth (then *param, if not null, names the top-level field
// that nests too deep).
StatusOr<nlohmann::json> ParseJsonObject(const std::string& body, std::string* param = nullptr);

// REQUIRES: body.is_object(). On error, *param (if not null) names the parameter.
StatusOr<ChatRequest> ParseChatRequest(const nlohmann::json& body, const RequestLimits& limits,
                                       std::string* param);
StatusOr<CompletionRequest> ParseCompletionRequest(const nlohmann::json& body,
                                                   const RequestLimits& limits,
                                                   std::string* param);
StatusOr<TokenizeRequest> ParseTokenizeRequest(const nlohmann::json& body, std::string* param);
StatusOr<std::vector<int32_t>> ParseDetokenizeRequest(const nlohmann::json& body,
                                                      const RequestLimits& limits,
                                                      std::string* param);

}  // namespace parley
