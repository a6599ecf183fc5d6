// OpenAI response shapes (chat.completion, chat.completion.chunk, text_completion), usage,
// logprobs and error objects, as the official `openai` client parses them.
#include "server/openai_response.h"

#include <cmath>

namespace parley {

using nlohmann::json;

namespace {

const char* DefaultErrorType(int http_status) {
  switch (http_status) {
    case 401: return "authentication_error";
    case 404: return "not_found_error";
    case 503: return "service_unavailable_error";
    default: return http_status >= 500 ? "server_error" : "invalid_request_error";
  }
}

json NullOr(const std::string& s) { return s.empty() ? json(nullptr) : json(s); }

json ByteList(const std::string& bytes) {
  json out = json::array();
  for (unsigned char c : bytes) out.push_back(static_cast<int>(c));
  return out;
}

json LogprobValue(float logprob) {
  // -inf (a token the model gives no chance, e.g. masked) has no JSON form.
  return std::isfinite(logprob) ? json(logprob) : json(-9999.0);
}

}  // namespace

ApiError ApiErrorFromStatus(const Status& status, const std::string& param) {
  ApiError e;
  e.message = status.message();
  e.param = param;
  switch (status.code()) {
    case StatusCode::kInvalidArgument:
    case StatusCode::kOutOfRange: e.http_status = 400; break;
    case StatusCode::kUnavailable: e.http_status = 503; break;
    default: e.http_status = 500; break;
  }
  return e;
}

json ErrorJson(const ApiError& error) {
  return {{"error",
           {{"message", error.message},
            {"type", error.type.empty() ? DefaultErrorType(error.http_status) : error.type},
            {"param", NullOr(error.param)},
            {"code", error.code.empty() ? json(nullptr) : json(error.code)}}}};
}

std::string DumpJson(const json& value) {
  return value.dump(-1, ' ', /*ensure_ascii=*/false, json::error_handler_t::replace);
}

std::string SseData(const json& value) { return "data: " + DumpJson(value) + "\n\n"; }

json FinishReasonJson(FinishReason reason) {
  switch (reason) {
    case FinishReason::kStop: return "stop";
    case FinishReason::kLength: return "length";
    default: return nullptr;
  }
}

json UsageJson(const Usage& usage) {
  return {{"prompt_tokens", usage.prompt_tokens},
          {"completion_tokens", usage.completion_tokens},
          {"total_tokens", usage.prompt_tokens + usage.completion_tokens},
          {"prompt_tokens_details", {{"cached_tokens", usage.cached_tokens}}},
          // OpenAI names these for Predicted Outputs; drafted_tokens / accepted_draft_tokens
          // (Parley's) count every speculative draft, from any source.
          {"completion_tokens_details",
           {{"accepted_prediction_tokens", usage.prediction_accepted},
            {"rejected_prediction_tokens", usage.prediction_rejected},
            {"drafted_tokens", usage.draft_tokens},
            {"accepted_draft_tokens", usage.draft_accepted}}}};
}

json ChatLogprobEntries(std::span<const TokenLogprob> logprobs, const TokenTextFn& token_text) {
  json out = json::array();
  for (const TokenLogprob& lp : logprobs) {
    const std::string text = token_text(lp.token);
    json top = json::array();
    for (const auto& [id, value] : lp.top) {
      const std::string t = token_text(id);
      top.push_back({{"token", t}, {"logprob", LogprobValue(value)}, {"bytes", ByteList(t)}});
    }
    out.push_back({{"token", text},
                   {"logprob", LogprobValue(lp.logprob)},
                   {"bytes", ByteList(text)},
                   {"top_logprobs", std::move(top)}});
  }
  return out;
}

void LegacyLogprobs::Add(const TokenLogprob& logprob, const TokenTextFn& token_text,
                         bool first_prompt_token) {
  const std::string text = token_text(logprob.token);
  tokens_.push_back(text);
  text_offset_.push_back(offset_);
  offset_ += text.size();
  if (first_prompt_token) {
    token_logprobs_.push_back(nullptr);
    top_logprobs_.push_back(nullptr);
    return;
  }
  token_logprobs_.push_back(LogprobValue(logprob.logprob));
  json top = json::object();
  for (const auto& [id, value] : logprob.top) {
    const std::string t = token_text(id);
    // Several ids can share a text; keep the likelier (listed first).
    if (!top.contains(t)) top[t] = LogprobValue(value);
  }
  top_logprobs_.push_back(std::move(top));
}

json LegacyLogprobs::Take() {
  json out = {{"tokens", std::move(tokens_)},
              {"token_logprobs", std::move(token_logprobs_)},
              {"top_logprobs", std::move(top_logprobs_)},
              {"text_offset", std::move(text_offset_)}};
  tokens_ = json::array();
  token_logprobs_ = json::array();
  top_logprobs_ = json::array();
  text_offset_ = json::array();
  return out;
}

json ChatCompletionJson(const ResponseMeta& meta, const std::vector<ChatChoice>& choices,
                        const Usage& usage) {
  json list = json::array();
  for (size_t i = 0; i < choices.size(); ++i) {
    list.push_back({{"index", static_cast<int>(i)},
                    {"message", {{"role", "assistant"}, {"content", choices[i].text}}},
                    {"logprobs", choices[i].logprobs},
                    {"finish_reason", FinishReasonJson(choices[i].finish)}});
  }
  return {{"id", meta.id},
          {"object", "chat.completion"},
          {"created", meta.created},
          {"model", meta.model},
          {"system_fingerprint", NullOr(meta.system_fingerprint)},
          {"choices", std::move(list)},
          {"usage", UsageJson(usage)}};
}

json ChatChunkJson(const ResponseMeta& meta, int32_t index, const json& delta,
                   const json& finish_reason, const json& logprobs) {
  json choice = {{"index", index},
                 {"delta", delta},
                 {"logprobs", logprobs},
                 {"finish_reason", finish_reason}};
  return {{"id", meta.id},
          {"object", "chat.completion.chunk"},
          {"created", meta.created},
          {"model", meta.model},
          {"system_fingerprint", NullOr(meta.system_fingerprint)},
          {"choices", json::array({std::move(choice)})}};
}

json CompletionJson(const ResponseMeta& meta, const std::vector<CompletionChoice>& choices,
                    const Usage& usage) {
  json list = json::array();
  for (size_t i = 0; i < choices.size(); ++i) {
    list.push_back({{"index", static_cast<int>(i)},
                    {"text", choices[i].text},
                    {"logprobs", choices[i].logprobs},
                    {"finish_reason", FinishReasonJson(choices[i].finish)}});
  }
  return {{"id", meta.id},
          {"object", "text_completion"},
          {"created", meta.created},
          {"model", meta.model},
          {"system_fingerprint", NullOr(meta.system_fingerprint)},
          {"choices", std::move(list)},
          {"usage", UsageJson(usage)}};
}

json CompletionChunkJson(const ResponseMeta& meta, int32_t index, const std::string& text,
                         const json& finish_reason, const json& logprobs) {
  json choice = {{"index", index},
                 {"text", text},
                 {"logprobs", logprobs},
                 {"finish_reason", finish_reason}};
  return {{"id", meta.id},
          {"object", "text_completion"},
          {"created", meta.created},
          {"model", meta.model},
          {"system_fingerprint", NullOr(meta.system_fingerprint)},
          {"choices", json::array({std::move(choice)})}};
}

json UsageChunkJson(const ResponseMeta& meta, const char* object, const Usage& usage) {
  return {{"id", meta.id},
          {"object", object},
          {"created", meta.created},
          {"model", meta.model},
          {"system_fingerprint", NullOr(meta.system_fingerprint)},
          {"choices", json::array()},
          {"usage", UsageJson(usage)}};
}

}  // namespace parley
