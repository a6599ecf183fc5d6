// Parsing and validation of OpenAI-style request bodies. A JSON null counts as an absent
// field (clients send explicit nulls for unset options); anything else must have the
// documented type and range.
#include "server/openai_request.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <optional>
#include <string_view>

#include "server/refused_params.h"

namespace parley {
namespace {

using nlohmann::json;

// Reads typed fields of one JSON object; the first error is returned and names its field.
class Fields {
 public:
  Fields(const json& body, std::string* param) : body_(body), param_(param) {}

  // The field, or null when it is absent or JSON null.
  const json* Find(const char* name) const {
    auto it = body_.find(name);
    if (it == body_.end() || it->is_null()) return nullptr;
    return &*it;
  }

  Status Fail(const std::string& name, const std::string& message) const {
    if (param_ != nullptr) *param_ = name;
    return Status::InvalidArgument(message);
  }

  Status Bool(const char* name, bool* out) const {
    const json* v = Find(name);
    if (v == nullptr) return Status::Ok();
    if (!v->is_boolean()) return Fail(name, std::string("'") + name + "' must be a boolean");
    *out = v->get<bool>();
    return Status::Ok();
  }

  // A string of at most `max_bytes` bytes.
  Status String(const char* name, std::string* out,
                size_t max_bytes = std::numeric_limits<size_t>::max()) const {
    const json* v = Find(name);
    if (v == nullptr) return Status::Ok();
    if (!v->is_string()) return Fail(name, std::string("'") + name + "' must be a string");
    const std::string& s = v->get_ref<const std::string&>();
    if (s.size() > max_bytes) {
      return Fail(name, std::string("'") + name + "' is " + std::to_string(s.size()) +
                            " bytes long; at most " + std::to_string(max_bytes));
    }
    *out = s;
    return Status::Ok();
  }

  // A number in [lo, hi] (finite). `given` (optional) reports presence.
  Status Float(const char* name, double lo, double hi, float* out, bool* given = nullptr) const {
    const json* v = Find(name);
    if (v == nullptr) return Status::Ok();
    const double x = v->is_number() ? v->get<double>() : std::nan("");
    if (!v->is_number() || !std::isfinite(x) || x < lo || x > hi) {
      return Fail(name, std::string("'") + name + "' must be a number in [" + Num(lo) + ", " +
                            Num(hi) + "], got " + Shown(*v));
    }
    *out = static_cast<float>(x);
    if (given != nullptr) *given = true;
    return Status::Ok();
  }

  // An integer in [lo, hi] (integral floats such as 16.0 are accepted).
  Status Int(const char* name, int64_t lo, int64_t hi, int64_t* out, bool* given = nullptr) const {
    const json* v = Find(name);
    if (v == nullptr) return Status::Ok();
    std::optional<int64_t> x = AsInt(*v);
    if (!x || *x < lo || *x > hi) {
      return Fail(name, std::string("'") + name + "' must be an integer in [" +
                            std::to_string(lo) + ", " + std::to_string(hi) + "], got " +
                            Shown(*v));
    }
    *out = *x;
    if (given != nullptr) *given = true;
    return Status::Ok();
  }

  static std::optional<int64_t> AsInt(const json& v) {
    if (v.is_number_unsigned()) {
      const uint64_t u = v.get<uint64_t>();
      if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return std::nullopt;
      return static_cast<int64_t>(u);
    }
    if (v.is_number_integer()) return v.get<int64_t>();
    if (v.is_number_float()) {
      const double d = v.get<double>();
      if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9e18) {
        return static_cast<int64_t>(d);
      }
    }
    return std::nullopt;
  }

 private:
  // A value for an error message: compact, at most 40 characters.
  static std::string Shown(const json& v) {
    std::string s = v.dump(-1, ' ', false, json::error_handler_t::replace);
    return s.size() > 40 ? s.substr(0, 37) + "..." : s;
  }
  static std::string Num(double x) {
    std::string s = std::to_string(x);
    s.erase(s.find_last_not_of('0') + 1);
    if (!s.empty() && s.back() == '.') s.pop_back();
    return s;
  }
  const json& body_;
  std::string* param_;
};

// logit_bias: {"<token id>": bias, ...}. Keys are decimal token ids (JSON keys are strings,
// as OpenAI sends them) in [0, vocab); biases are numbers in [-100, 100]; at most
// SamplingParams::kMaxLogitBias entries. Stored sorted by token id.
Status ParseLogitBias(const Fields& f, const RequestLimits& limits,
                      std::vector<std::pair<int32_t, float>>* out) {
  const json* bias = f.Find("logit_bias");
  if (bias == nullptr) return Status::Ok();
  if (!bias->is_object()) {
    return f.Fail("logit_bias",
                  "'logit_bias' must be an object mapping token ids (as strings) to numbers in "
                  "[-100, 100]");
  }
  if (bias->size() > SamplingParams::kMaxLogitBias) {
    return f.Fail("logit_bias", "'logit_bias' has " + std::to_string(bias->size()) +
                                    " entries; at most " +
                                    std::to_string(SamplingParams::kMaxLogitBias));
  }
  for (const auto& [key, value] : bias->items()) {
    // Digits only (an optional minus so that "-1" reads as out of range, not as text).
    const bool digits = !key.empty() && key != "-" &&
                        std::all_of(key.begin() + (key[0] == '-' ? 1 : 0), key.end(),
                                    [](char c) { return c >= '0' && c <= '9'; });
    if (!digits) {
      return f.Fail("logit_bias", "'logit_bias' keys must be token ids (integers), got \"" +
                                      key.substr(0, 20) + "\"");
    }
    int64_t id = 0;
    if (std::from_chars(key.data(), key.data() + key.size(), id).ec != std::errc()) {
      id = std::numeric_limits<int64_t>::max();  // too many digits: outside any vocabulary
    }
    if (id < 0 || (limits.vocab_size > 0 && id >= limits.vocab_size) ||
        id > std::numeric_limits<int32_t>::max()) {
      return f.Fail("logit_bias", "'logit_bias' has token id " + std::to_string(id) +
                                      " outside the vocabulary [0, " +
                                      std::to_string(limits.vocab_size) + ")");
    }
    const double b = value.is_number() ? value.get<double>() : std::nan("");
    if (!(b >= -SamplingParams::kMaxBias && b <= SamplingParams::kMaxBias)) {
      return f.Fail("logit_bias", "'logit_bias' values must be numbers in [-100, 100]; token " +
                                      key.substr(0, 20) + " has " +
                                      value.dump(-1, ' ', false, json::error_handler_t::replace)
                                          .substr(0, 40));
    }
    out->emplace_back(static_cast<int32_t>(id), static_cast<float>(b));
  }
  std::sort(out->begin(), out->end());
  for (size_t i = 1; i < out->size(); ++i) {
    if ((*out)[i].first == (*out)[i - 1].first) {
      return f.Fail("logit_bias", "'logit_bias' names token " +
                                      std::to_string((*out)[i].first) + " twice");
    }
  }
  return Status::Ok();
}

// The fields /v1/chat/completions and /v1/completions share.
Status ParseCommon(const Fields& f, const RequestLimits& limits, bool chat,
                   GenerationFields* out) {
  const size_t name_bytes = static_cast<size_t>(limits.max_name_bytes);
  PARLEY_RETURN_IF_ERROR(f.String("model", &out->model, name_bytes));
  PARLEY_RETURN_IF_ERROR(f.String("user", &out->user, name_bytes));
  out->generation.session_id = out->user;

  SamplingParams& s = out->generation.sampling;
  s.temperature = limits.sampling_defaults.temperature;
  s.top_p = limits.sampling_defaults.top_p;
  s.top_k = limits.sampling_defaults.top_k;
  s.min_p = limits.sampling_defaults.min_p;
  PARLEY_RETURN_IF_ERROR(f.Float("temperature", 0.0, 100.0, &s.temperature));
  PARLEY_RETURN_IF_ERROR(f.Float("top_p", 0.0, 1.0, &s.top_p));
  if (f.Find("top_p") != nullptr && s.top_p <= 0.0f) {
    return f.Fail("top_p", "'top_p' must be in (0, 1]");
  }
  int64_t top_k = s.top_k;
  PARLEY_RETURN_IF_ERROR(f.Int("top_k", -1, std::numeric_limits<int32_t>::max(), &top_k));
  s.top_k = top_k < 0 ? 0 : static_cast<int32_t>(top_k);  // -1 (vLLM): no limit
  PARLEY_RETURN_IF_ERROR(f.Float("min_p", 0.0, 1.0, &s.min_p));
  PARLEY_RETURN_IF_ERROR(f.Float("repetition_penalty", 0.0, 100.0, &s.repetition_penalty));
  if (f.Find("repetition_penalty") != nullptr && s.repetition_penalty <= 0.0f) {
    return f.Fail("repetition_penalty", "'repetition_penalty' must be > 0");
  }
  PARLEY_RETURN_IF_ERROR(f.Float("presence_penalty", -2.0, 2.0, &s.presence_penalty));
  PARLEY_RETURN_IF_ERROR(f.Float("frequency_penalty", -2.0, 2.0, &s.frequency_penalty));
  PARLEY_RETURN_IF_ERROR(ParseLogitBias(f, limits, &s.logit_bias));
  int64_t seed = 0;
  PARLEY_RETURN_IF_ERROR(f.Int("seed", std::numeric_limits<int64_t>::min(),
                               std::numeric_limits<int64_t>::max(), &seed, &out->seed_given));
  s.seed = static_cast<uint64_t>(seed);

  // max_tokens: chat needs at least one token; completions may ask for 0 (prompt scoring).
  const int64_t min_tokens = chat ? 1 : 0;
  int64_t max_tokens = chat ? limits.max_tokens_limit : 16;
  const char* tokens_name =
      chat && f.Find("max_completion_tokens") != nullptr ? "max_completion_tokens" : "max_tokens";
  PARLEY_RETURN_IF_ERROR(
      f.Int(tokens_name, min_tokens, limits.max_tokens_limit, &max_tokens, &out->max_tokens_given));
  out->generation.max_tokens = static_cast<int32_t>(max_tokens);

  if (const json* stop = f.Find("stop")) {
    std::vector<std::string>& list = out->generation.stop;
    if (stop->is_string()) {
      list.push_back(stop->get<std::string>());
    } else if (stop->is_array()) {
      for (const json& s : *stop) {
        if (!s.is_string()) return f.Fail("stop", "'stop' must be a string or a list of strings");
        list.push_back(s.get<std::string>());
      }
    } else {
      return f.Fail("stop", "'stop' must be a string or a list of strings");
    }
    if (static_cast<int32_t>(list.size()) > limits.max_stop) {
      return f.Fail("stop", "'stop' has " + std::to_string(list.size()) +
                                " strings; at most " + std::to_string(limits.max_stop));
    }
    for (const std::string& s : list) {
      if (s.empty()) return f.Fail("stop", "'stop' strings must not be empty");
      if (s.size() > static_cast<size_t>(limits.max_stop_bytes)) {
        return f.Fail("stop", "'stop' has a string of " + std::to_string(s.size()) +
                                  " bytes; at most " + std::to_string(limits.max_stop_bytes));
      }
    }
  }

  PARLEY_RETURN_IF_ERROR(f.Bool("ignore_eos", &out->generation.ignore_eos));
  PARLEY_RETURN_IF_ERROR(f.Bool("stream", &out->stream));
  if (const json* opts = f.Find("stream_options")) {
    if (!out->stream) {
      return f.Fail("stream_options", "'stream_options' is only allowed when 'stream' is true");
    }
    if (!opts->is_object()) return f.Fail("stream_options", "'stream_options' must be an object");
    if (!Fields(*opts, nullptr).Bool("include_usage", &out->include_usage).ok()) {
      return f.Fail("stream_options", "'stream_options.include_usage' must be a boolean");
    }
  }

  int64_t n = 1;
  PARLEY_RETURN_IF_ERROR(f.Int("n", 1, kMaxChoices, &n));
  out->generation.n = static_cast<int32_t>(n);
  return Status::Ok();
}

// message.content: a string, or an array of {"type": "text", "text": ...} parts.
Status ParseContent(const json& content, const std::string& where, const Fields& f,
                    const RequestLimits& limits, std::string* out) {
  if (content.is_string()) {
    *out = content.get<std::string>();
    return Status::Ok();
  }
  if (!content.is_array()) {
    return f.Fail("messages", where + ".content must be a string or an array of text parts");
  }
  if (content.size() > static_cast<size_t>(limits.max_content_parts)) {
    return f.Fail("messages", where + ".content has " + std::to_string(content.size()) +
                                  " parts; at most " + std::to_string(limits.max_content_parts));
  }
  for (size_t i = 0; i < content.size(); ++i) {
    const json& part = content[i];
    const std::string at = where + ".content[" + std::to_string(i) + "]";
    if (!part.is_object()) return f.Fail("messages", at + " must be an object");
    auto type = part.find("type");
    if (type == part.end() || !type->is_string()) {
      return f.Fail("messages", at + ".type must be a string");
    }
    if (*type != "text") {
      return f.Fail("messages", at + ": content type '" + type->get<std::string>() +
                                    "' is not supported (only 'text')");
    }
    auto text = part.find("text");
    if (text == part.end() || !text->is_string()) {
      return f.Fail("messages", at + ".text must be a string");
    }
    *out += text->get<std::string>();
  }
  return Status::Ok();
}

// OpenAI Predicted Outputs: {"type": "content", "content": a string or text parts}.
Status ParsePrediction(const Fields& f, const RequestLimits& limits, std::string* out) {
  const json* p = f.Find("prediction");
  if (p == nullptr) return Status::Ok();
  if (!p->is_object()) return f.Fail("prediction", "'prediction' must be an object {\"type\": \"content\", ...}");
  auto type = p->find("type");
  if (type == p->end() || !type->is_string() || *type != "content") {
    return f.Fail("prediction", "'prediction.type' must be \"content\"");
  }
  auto content = p->find("content");
  if (content == p->end()) return f.Fail("prediction", "'prediction.content' is required");
  if (content->is_string()) {
    *out = content->get<std::string>();
  } else if (content->is_array() && content->size() <= static_cast<size_t>(limits.max_content_parts)) {
    for (const json& part : *content) {
      auto text = part.is_object() ? part.find("text") : part.end();
      if (!part.is_object() || part.value("type", "") != "text" || text == part.end() || !text->is_string()) {
        return f.Fail("prediction", "'prediction.content' parts must be {\"type\": \"text\", \"text\": ...}");
      }
      *out += text->get<std::string>();
    }
  } else {
    return f.Fail("prediction", "'prediction.content' must be a string or at most " +
                                    std::to_string(limits.max_content_parts) + " text parts");
  }
  if (out->size() > static_cast<size_t>(limits.max_prediction_bytes)) {
    return f.Fail("prediction", "'prediction.content' has " + std::to_string(out->size()) + " bytes; at most " +
                                    std::to_string(limits.max_prediction_bytes));
  }
  return Status::Ok();
}

Status ParseMessages(const Fields& f, const RequestLimits& limits, std::vector<ChatMessage>* out) {
  const json* messages = f.Find("messages");
  if (messages == nullptr) return f.Fail("messages", "'messages' is required");
  if (!messages->is_array() || messages->empty()) {
    return f.Fail("messages", "'messages' must be a non-empty array");
  }
  if (messages->size() > static_cast<size_t>(limits.max_messages)) {
    return f.Fail("messages", "'messages' has " + std::to_string(messages->size()) +
                                  " messages; at most " + std::to_string(limits.max_messages));
  }
  for (size_t i = 0; i < messages->size(); ++i) {
    const json& m = (*messages)[i];
    const std::string where = "messages[" + std::to_string(i) + "]";
    if (!m.is_object()) return f.Fail("messages", where + " must be an object");
    auto role = m.find("role");
    if (role == m.end() || !role->is_string()) {
      return f.Fail("messages", where + ".role must be a string");
    }
    ChatMessage msg;
    msg.role = role->get<std::string>();
    if (msg.role == "developer") msg.role = "system";
    if (msg.role != "system" && msg.role != "user" && msg.role != "assistant") {
      return f.Fail("messages", where + ".role '" + msg.role +
                                    "' is not supported (system, user, assistant)");
    }
    auto content = m.find("content");
    if (content == m.end() || content->is_null()) {
      if (msg.role != "assistant") return f.Fail("messages", where + ".content is required");
    } else {
      PARLEY_RETURN_IF_ERROR(ParseContent(*content, where, f, limits, &msg.content));
    }
    out->push_back(std::move(msg));
  }
  return Status::Ok();
}

// A list of token ids, each in [0, vocab).
Status ParseTokenList(const json& list, const RequestLimits& limits, const Fields& f,
                      const char* name, std::vector<int32_t>* out) {
  for (const json& t : list) {
    std::optional<int64_t> id = Fields::AsInt(t);
    if (!id) return f.Fail(name, std::string("'") + name + "' token ids must be integers");
    if (*id < 0 || (limits.vocab_size > 0 && *id >= limits.vocab_size) ||
        *id > std::numeric_limits<int32_t>::max()) {
      return f.Fail(name, std::string("'") + name + "' has token id " + std::to_string(*id) +
                              " outside the vocabulary [0, " +
                              std::to_string(limits.vocab_size) + ")");
    }
    out->push_back(static_cast<int32_t>(*id));
  }
  return Status::Ok();
}

// prompt: a string, a list of strings, a list of token ids, or a list of token-id lists.
Status ParsePrompts(const Fields& f, const RequestLimits& limits, std::vector<PromptInput>* out) {
  const json* prompt = f.Find("prompt");
  if (prompt == nullptr) return f.Fail("prompt", "'prompt' is required");
  const char* kShapes =
      "'prompt' must be a string, a list of strings, a list of token ids or a list of "
      "token-id lists";
  if (prompt->is_string()) {
    out->push_back({true, prompt->get<std::string>(), {}});
    return Status::Ok();
  }
  if (!prompt->is_array() || prompt->empty()) return f.Fail("prompt", kShapes);
  const json& first = prompt->front();
  if (first.is_number()) {
    PromptInput p{false, "", {}};
    PARLEY_RETURN_IF_ERROR(ParseTokenList(*prompt, limits, f, "prompt", &p.tokens));
    out->push_back(std::move(p));
    return Status::Ok();
  }
  if (static_cast<int32_t>(prompt->size()) > limits.max_prompts) {
    return f.Fail("prompt", "at most " + std::to_string(limits.max_prompts) +
                                " prompts per request, got " + std::to_string(prompt->size()));
  }
  for (const json& p : *prompt) {
    if (first.is_string() && p.is_string()) {
      out->push_back({true, p.get<std::string>(), {}});
    } else if (first.is_array() && p.is_array()) {
      if (p.empty()) return f.Fail("prompt", "'prompt' token-id lists must not be empty");
      PromptInput in{false, "", {}};
      PARLEY_RETURN_IF_ERROR(ParseTokenList(p, limits, f, "prompt", &in.tokens));
      out->push_back(std::move(in));
    } else {
      return f.Fail("prompt", kShapes);
    }
  }
  return Status::Ok();
}

// Where `body` nests arrays and objects deeper than `max_depth`: the top-level key being
// read then ("" before any), or nullopt when it does not. Tolerates malformed JSON (the
// parser reports that). One pass, no allocation.
std::optional<std::string> TooDeep(const std::string& body, int32_t max_depth) {
  int32_t depth = 0;
  bool in_string = false, escaped = false;
  size_t string_start = 0;
  std::string_view last_string, key;
  for (size_t i = 0; i < body.size(); ++i) {
    const char c = body[i];
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
        last_string = std::string_view(body).substr(string_start, i - string_start);
      }
      continue;
    }
    switch (c) {
      case '"':
        in_string = true;
        string_start = i + 1;
        break;
      case ':':
        if (depth == 1) key = last_string;
        break;
      case '{':
      case '[':
        if (++depth > max_depth) return std::string(key.substr(0, 64));
        break;
      case '}':
      case ']': --depth; break;
      default: break;
    }
  }
  return std::nullopt;
}

}  // namespace

StatusOr<json> ParseJsonObject(const std::string& body, std::string* param) {
  if (std::optional<std::string> key = TooDeep(body, kMaxJsonDepth)) {
    if (param != nullptr) *param = *key;
    return Status::InvalidArgument(
        (key->empty() ? std::string("the request body") : "'" + *key + "'") +
        " nests arrays and objects deeper than " + std::to_string(kMaxJsonDepth) + " levels");
  }
  json parsed = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) {
    return Status::InvalidArgument("the request body is not valid JSON");
  }
  if (!parsed.is_object()) return Status::InvalidArgument("the request body must be a JSON object");
  return parsed;
}

StatusOr<ChatRequest> ParseChatRequest(const json& body, const RequestLimits& limits,
                                       std::string* param) {
  Fields f(body, param);
  ChatRequest req;
  PARLEY_RETURN_IF_ERROR(ParseMessages(f, limits, &req.messages));
  PARLEY_RETURN_IF_ERROR(ParseCommon(f, limits, /*chat=*/true, &req));
  PARLEY_RETURN_IF_ERROR(CheckRefusedParams(body, kChatEndpoint, param));
  PARLEY_RETURN_IF_ERROR(f.Bool("logprobs", &req.logprobs));
  int64_t top = 0;
  bool top_given = false;
  PARLEY_RETURN_IF_ERROR(f.Int("top_logprobs", 0, 20, &top, &top_given));
  if (top_given && !req.logprobs) {
    return f.Fail("top_logprobs", "'top_logprobs' needs 'logprobs' set to true");
  }
  req.generation.logprobs = req.logprobs ? static_cast<int32_t>(top) : -1;
  PARLEY_RETURN_IF_ERROR(ParsePrediction(f, limits, &req.prediction));
  return req;
}

StatusOr<CompletionRequest> ParseCompletionRequest(const json& body, const RequestLimits& limits,
                                                   std::string* param) {
  Fields f(body, param);
  CompletionRequest req;
  PARLEY_RETURN_IF_ERROR(ParsePrompts(f, limits, &req.prompts));
  PARLEY_RETURN_IF_ERROR(ParseCommon(f, limits, /*chat=*/false, &req));
  PARLEY_RETURN_IF_ERROR(CheckRefusedParams(body, kCompletionsEndpoint, param));
  // n choices of each prompt: bounded together like the prompts.
  const int64_t choices = static_cast<int64_t>(req.prompts.size()) * req.generation.n;
  if (choices > limits.max_prompts) {
    return f.Fail("n", "'n' = " + std::to_string(req.generation.n) + " for " +
                           std::to_string(req.prompts.size()) + " prompts asks for " +
                           std::to_string(choices) + " choices; at most " +
                           std::to_string(limits.max_prompts) + " per request");
  }
  PARLEY_RETURN_IF_ERROR(f.Bool("echo", &req.echo));
  int64_t logprobs = -1;
  PARLEY_RETURN_IF_ERROR(f.Int("logprobs", 0, 20, &logprobs));
  req.logprobs = static_cast<int32_t>(logprobs);
  req.generation.logprobs = req.logprobs;
  req.generation.prompt_logprobs = req.echo && req.logprobs >= 0;
  return req;
}

StatusOr<TokenizeRequest> ParseTokenizeRequest(const json& body, std::string* param) {
  Fields f(body, param);
  TokenizeRequest req;
  if (f.Find("content") == nullptr) return f.Fail("content", "'content' is required");
  PARLEY_RETURN_IF_ERROR(f.String("content", &req.content));
  PARLEY_RETURN_IF_ERROR(f.Bool("add_special", &req.add_special));
  return req;
}

StatusOr<std::vector<int32_t>> ParseDetokenizeRequest(const json& body,
                                                      const RequestLimits& limits,
                                                      std::string* param) {
  Fields f(body, param);
  const json* tokens = f.Find("tokens");
  if (tokens == nullptr || !tokens->is_array()) {
    return f.Fail("tokens", "'tokens' must be a list of token ids");
  }
  std::vector<int32_t> out;
  PARLEY_RETURN_IF_ERROR(ParseTokenList(*tokens, limits, f, "tokens", &out));
  return out;
}

}  // namespace parley
