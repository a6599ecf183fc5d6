// Parley results -> OpenAI response bodies: chat and text completions (whole and as SSE
// chunks), usage, both logprob formats (chat `content` entries and the legacy completions
// lists), and error objects with their HTTP status. Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/status.h"
#include "engine/request.h"
#include "sampling/sampler.h"

namespace parley {

// An OpenAI error object and the HTTP status it travels with.
struct ApiError {
  int http_status = 500;
  std::string message;
  std::string type;   // "" -> derived from http_status
  std::string param;  // the offending request field, or "" (null)
  std::string code;   // "" (null) or e.g. "model_not_found"
};

// kInvalidArgument and kOutOfRange -> 400, kUnavailable -> 503, everything else -> 500.
ApiError ApiErrorFromStatus(const Status& status, const std::string& param = "");
// {"error": {"message", "type", "param", "code"}}
nlohmann::json ErrorJson(const ApiError& error);

// Serializes JSON for the wire; invalid UTF-8 (a token that is part of a character) is
// replaced by U+FFFD instead of throwing.
std::string DumpJson(const nlohmann::json& value);
// One server-sent event: "data: <json>\n\n".
std::string SseData(const nlohmann::json& value);
inline constexpr const char* kSseDone = "data: [DONE]\n\n";

// What every response or chunk of one request carries.
struct ResponseMeta {
  std::string id;       // "chatcmpl-..." / "cmpl-..."
  int64_t created = 0;  // Unix seconds
  std::string model;
  std::string system_fingerprint;  // the build and configuration; "" -> null
};

// "stop" / "length"; null for anything else (an unfinished stream).
nlohmann::json FinishReasonJson(FinishReason reason);
// {prompt_tokens, completion_tokens, total_tokens, prompt_tokens_details: {cached_tokens}}
nlohmann::json UsageJson(const Usage& usage);

// The bytes of a token id (special tokens with their text), for logprob entries.
using TokenTextFn = std::function<std::string(int32_t)>;

// Chat logprobs: one {token, logprob, bytes, top_logprobs: [{token, logprob, bytes}]} per
// generated token; append them to a choice's "logprobs": {"content": [...]}.
nlohmann::json ChatLogprobEntries(std::span<const TokenLogprob> logprobs,
                                  const TokenTextFn& token_text);

// Legacy completions logprobs: {tokens, token_logprobs, top_logprobs, text_offset}, built
// token by token. Offsets count bytes of the choice's text from `base_offset`.
class LegacyLogprobs {
 public:
  explicit LegacyLogprobs(size_t base_offset = 0) : offset_(base_offset) {}
  // `first_prompt_token`: the prompt's first token has no logprob (null entries).
  void Add(const TokenLogprob& logprob, const TokenTextFn& token_text, bool first_prompt_token);
  // The entries added so far (and, for streaming, forgets them; the offset keeps counting).
  nlohmann::json Take();
  bool empty() const { return tokens_.empty(); }

 private:
  size_t offset_;
  nlohmann::json tokens_ = nlohmann::json::array();
  nlohmann::json token_logprobs_ = nlohmann::json::array();
  nlohmann::json top_logprobs_ = nlohmann::json::array();
  nlohmann::json text_offset_ = nlohmann::json::array();
};

// One choice of a chat completion.
struct ChatChoice {
  std::string text;
  FinishReason finish = FinishReason::kNone;
  nlohmann::json logprobs;  // null or {"content": [...]}
};
// A whole chat completion; choice i gets index i.
nlohmann::json ChatCompletionJson(const ResponseMeta& meta, const std::vector<ChatChoice>& choices,
                                  const Usage& usage);
// A chat.completion.chunk with one choice at `index`. `delta`: e.g. {"role": "assistant"}
// or {"content": "..."}; finish and logprobs may be null.
nlohmann::json ChatChunkJson(const ResponseMeta& meta, int32_t index, const nlohmann::json& delta,
                             const nlohmann::json& finish_reason, const nlohmann::json& logprobs);

// One choice of a text completion.
struct CompletionChoice {
  std::string text;
  FinishReason finish = FinishReason::kNone;
  nlohmann::json logprobs;  // null or the legacy object
};
nlohmann::json CompletionJson(const ResponseMeta& meta, const std::vector<CompletionChoice>& choices,
                              const Usage& usage);
// A text_completion chunk with one choice at `index`.
nlohmann::json CompletionChunkJson(const ResponseMeta& meta, int32_t index, const std::string& text,
                                   const nlohmann::json& finish_reason,
                                   const nlohmann::json& logprobs);
// The last chunk of a stream with stream_options.include_usage: "choices": [] and usage.
// `object`: "chat.completion.chunk" or "text_completion".
nlohmann::json UsageChunkJson(const ResponseMeta& meta, const char* object, const Usage& usage);

}  // namespace parley
