// The table of refused and ignored request fields (see refused_params.h). A field is
// refused only where it would change the output: its harmless values (an empty tool list,
// tool_choice "none", response_format text, ...) are what many clients send by default.
#include "server/refused_params.h"

#include <iterator>
#include <string_view>
#include <vector>

namespace parley {
namespace {

using nlohmann::json;

constexpr uint8_t kChat = kChatEndpoint;
constexpr uint8_t kCompletions = kCompletionsEndpoint;
constexpr uint8_t kBoth = kChatEndpoint | kCompletionsEndpoint;

constexpr const char* kNoTools = "is not supported: Parley has no tool or function calling";
constexpr const char* kNoStructured =
    "is not supported: Parley has no structured output (JSON mode, schemas, grammars, "
    "guided decoding)";
constexpr const char* kNoBeams = "is not supported: Parley has no beam search";

constexpr RefusedParam kRefused[] = {
    // OpenAI.
    {"tools", kChat, R"([[]])", kNoTools},
    {"tool_choice", kChat, R"(["none", "auto"])", kNoTools},
    {"functions", kChat, R"([[]])", kNoTools},
    {"function_call", kChat, R"(["none", "auto"])", kNoTools},
    {"response_format", kBoth, R"([{"type": "text"}])", kNoStructured},
    {"audio", kChat, "[]", "is not supported: Parley generates text only"},
    {"modalities", kChat, R"([["text"]])", "is not supported: Parley generates text only"},
    {"web_search_options", kChat, "[]", "is not supported: Parley has no web search"},
    {"reasoning_effort", kChat, R"(["none"])",
     "is not supported: Parley has no reasoning-effort control"},
    {"verbosity", kChat, R"(["medium"])", "is not supported: Parley has no verbosity control"},
    {"moderation", kChat, "[]", "is not supported: Parley runs no moderation"},
    {"best_of", kCompletions, "[1]",
     "is not supported beyond n: Parley does not rank several completions per prompt"},
    {"suffix", kCompletions, R"([""])",
     "is not supported: Parley has no insertion (fill in the middle)"},
    // vLLM extensions.
    {"use_beam_search", kBoth, "[false]", kNoBeams},
    {"length_penalty", kBoth, "[1]", kNoBeams},
    {"min_tokens", kBoth, "[0]", "is not supported: generation may end at any token"},
    {"stop_token_ids", kBoth, "[[]]", "is not supported: use 'stop' strings"},
    {"include_stop_str_in_output", kBoth, "[false]",
     "is not supported: stop strings are always cut from the output"},
    {"bad_words", kBoth, "[[]]", "is not supported: use 'logit_bias' with -100"},
    {"allowed_token_ids", kBoth, "[]", "is not supported: use 'logit_bias'"},
    {"guided_json", kBoth, "[]", kNoStructured},
    {"guided_regex", kBoth, "[]", kNoStructured},
    {"guided_choice", kBoth, "[]", kNoStructured},
    {"guided_grammar", kBoth, "[]", kNoStructured},
    {"structured_outputs", kBoth, "[]", kNoStructured},
    {"logits_processors", kBoth, "[[]]",
     "is not supported: Parley runs no custom logits processors"},
    {"truncate_prompt_tokens", kBoth, "[]",
     "is not supported: a prompt longer than the context is refused, never truncated"},
    {"prompt_logprobs", kBoth, "[]",
     "is not supported: use 'echo' with 'logprobs' (/v1/completions)"},
    {"return_tokens_as_token_ids", kBoth, "[false]",
     "is not supported: logprob tokens are always their text"},
    {"echo", kChat, "[false]", "is not supported on chat: use /v1/completions"},
    {"add_generation_prompt", kChat, "[true]",
     "is not supported: the assistant turn is always opened"},
    {"continue_final_message", kChat, "[false]",
     "is not supported: the assistant turn is always a new one"},
    {"chat_template", kChat, "[]", "is not supported per request: use --chat-template"},
    {"chat_template_kwargs", kChat, "[{}]", "is not supported: the chat template takes no options"},
    {"documents", kChat, "[[]]", "is not supported: the chat template takes no documents"},
    // llama.cpp (llama-server) extensions.
    {"n_predict", kBoth, "[-1]", "is not supported: use 'max_tokens'"},
    {"repeat_penalty", kBoth, "[1]", "is not supported: use 'repetition_penalty'"},
    {"n_probs", kBoth, "[0]", "is not supported: use 'logprobs' / 'top_logprobs'"},
    {"typical_p", kBoth, "[1]", "is not supported: Parley has no typical sampling"},
    {"tfs_z", kBoth, "[1]", "is not supported: Parley has no tail-free sampling"},
    {"mirostat", kBoth, "[0]", "is not supported: Parley has no Mirostat sampling"},
    {"dynatemp_range", kBoth, "[0]", "is not supported: Parley has no dynamic temperature"},
    {"top_n_sigma", kBoth, "[-1]", "is not supported: Parley has no top-n-sigma sampling"},
    {"xtc_probability", kBoth, "[0]", "is not supported: Parley has no XTC sampling"},
    {"dry_multiplier", kBoth, "[0]", "is not supported: Parley has no DRY penalty"},
    {"samplers", kBoth, "[]",
     "is not supported: the sampler order is fixed (penalties, top-k, top-p, min-p)"},
    {"grammar", kBoth, "[]", kNoStructured},
    {"json_schema", kBoth, "[]", kNoStructured},
};

// Accepted and ignored: bookkeeping (metadata, store, the prompt-cache and safety keys), a
// routing tier, and parallel_tool_calls, which means nothing without tools (refused above).
constexpr const char* kIgnored[] = {
    "metadata",         "store",                "service_tier",           "parallel_tool_calls",
    "prompt_cache_key", "prompt_cache_options", "prompt_cache_retention", "safety_identifier"};

// The `harmless` lists, parsed once.
const std::vector<json>& HarmlessValues() {
  static const std::vector<json> values = [] {
    std::vector<json> out;
    for (const RefusedParam& p : kRefused) out.push_back(json::parse(p.harmless));
    return out;
  }();
  return values;
}

}  // namespace

std::span<const RefusedParam> RefusedParams() { return kRefused; }

std::span<const char* const> IgnoredParams() { return kIgnored; }

Status CheckRefusedParams(const json& body, ApiEndpoint endpoint, std::string* param) {
  const std::vector<json>& harmless = HarmlessValues();
  for (size_t i = 0; i < std::size(kRefused); ++i) {
    const RefusedParam& p = kRefused[i];
    if ((p.endpoints & endpoint) == 0) continue;
    auto it = body.find(p.name);
    if (it == body.end() || it->is_null()) continue;
    // best_of = n asks for n completions, each the best of one: plain n.
    const bool is_best_of = std::string_view(p.name) == "best_of";
    bool ok = false;
    for (const json& v : harmless[i]) ok = ok || *it == v;
    if (is_best_of) {
      auto n = body.find("n");
      ok = ok || (n != body.end() && n->is_number() && *it == *n);
    }
    if (ok) continue;
    if (param != nullptr) *param = p.name;
    std::string message = std::string("'") + p.name + "' " + p.reason;
    if (!harmless[i].empty()) {
      std::string values;
      for (const json& v : harmless[i]) values += (values.empty() ? "" : " or ") + v.dump();
      message += "; accepted: " + values + (is_best_of ? ", or the value of n" : "");
    }
    return Status::InvalidArgument(message);
  }
  return Status::Ok();
}

}  // namespace parley
