// Request parsing and validation: every parameter's type and range, both prompt shapes,
// content arrays, and the parameter each error names.
#include "server/openai_request.h"

#include <gtest/gtest.h>

namespace parley {
namespace {

using nlohmann::json;

RequestLimits Limits() {
  RequestLimits l;
  l.max_tokens_limit = 1000;
  l.vocab_size = 100;
  l.max_prompts = 4;
  l.max_stop = 3;
  return l;
}

json Chat(json extra = json::object()) {
  json body = {{"messages", {{{"role", "user"}, {"content", "Hi"}}}}};
  body.update(extra);
  return body;
}

json Completion(json extra = json::object()) {
  json body = {{"prompt", "Once upon"}};
  body.update(extra);
  return body;
}

// The parameter a chat body is rejected for ("" if it is accepted).
std::string ChatError(const json& body) {
  std::string param;
  StatusOr<ChatRequest> r = ParseChatRequest(body, Limits(), &param);
  if (r.ok()) return "";
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << r.status().message();
  EXPECT_FALSE(r.status().message().empty());
  return param;
}

std::string CompletionError(const json& body) {
  std::string param;
  StatusOr<CompletionRequest> r = ParseCompletionRequest(body, Limits(), &param);
  if (r.ok()) return "";
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << r.status().message();
  return param;
}

TEST(ParseJsonObjectTest, RejectsMalformedAndNonObjects) {
  EXPECT_TRUE(ParseJsonObject(R"({"a": 1})").ok());
  for (const char* bad : {"", "{", "[1,2]", "\"x\"", "{\"a\": }", "null"}) {
    StatusOr<json> r = ParseJsonObject(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  }
}

TEST(ParseJsonObjectTest, RefusesDeepNestingAndNamesTheField) {
  const std::string deep = std::string(kMaxJsonDepth, '[') + std::string(kMaxJsonDepth, ']');
  EXPECT_TRUE(ParseJsonObject("{\"a\": " + deep.substr(1, deep.size() - 2) + "}").ok());  // at the limit
  std::string param;
  StatusOr<json> r = ParseJsonObject("{\"model\": \"m\", \"messages\": [" + deep + "]}", &param);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(param, "messages");
  EXPECT_NE(r.status().message().find("deeper than"), std::string::npos);
  // Brackets inside strings do not count; a body of brackets is refused without a key.
  EXPECT_TRUE(ParseJsonObject("{\"a\": \"" + std::string(1000, '[') + "\\\"{\"}").ok());
  param = "x";
  EXPECT_FALSE(ParseJsonObject(std::string(1 << 20, '['), &param).ok());
  EXPECT_EQ(param, "");
}

TEST(ParseChatRequestTest, Defaults) {
  std::string param;
  StatusOr<ChatRequest> r = ParseChatRequest(Chat(), Limits(), &param);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->messages.size(), 1u);
  EXPECT_EQ(r->messages[0].role, "user");
  EXPECT_EQ(r->messages[0].content, "Hi");
  EXPECT_EQ(r->model, "");
  EXPECT_FLOAT_EQ(r->generation.sampling.temperature, 1.0f);
  EXPECT_FLOAT_EQ(r->generation.sampling.top_p, 1.0f);
  EXPECT_EQ(r->generation.sampling.top_k, 0);
  EXPECT_EQ(r->generation.max_tokens, 1000);  // the server's limit; the engine clips
  EXPECT_FALSE(r->max_tokens_given);
  EXPECT_FALSE(r->seed_given);
  EXPECT_FALSE(r->stream);
  EXPECT_FALSE(r->include_usage);
  EXPECT_EQ(r->generation.logprobs, -1);
  EXPECT_TRUE(r->generation.stop.empty());
  EXPECT_FALSE(r->generation.ignore_eos);
}

TEST(ParseChatRequestTest, TheServersSamplingDefaultsFillOnlyWhatIsOmitted) {
  RequestLimits limits = Limits();
  limits.sampling_defaults.temperature = 0.8f;
  limits.sampling_defaults.top_k = 40;
  limits.sampling_defaults.top_p = 0.95f;
  limits.sampling_defaults.min_p = 0.05f;
  limits.sampling_defaults.presence_penalty = 1.5f;  // not a default the server sets: ignored
  std::string param;
  StatusOr<ChatRequest> r = ParseChatRequest(Chat(), limits, &param);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_FLOAT_EQ(r->generation.sampling.temperature, 0.8f);
  EXPECT_EQ(r->generation.sampling.top_k, 40);
  EXPECT_FLOAT_EQ(r->generation.sampling.top_p, 0.95f);
  EXPECT_FLOAT_EQ(r->generation.sampling.min_p, 0.05f);
  EXPECT_FLOAT_EQ(r->generation.sampling.presence_penalty, 0.0f);
  r = ParseChatRequest(Chat({{"temperature", 0}, {"top_k", -1}, {"top_p", 1}, {"min_p", 0}}), limits, &param);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_FLOAT_EQ(r->generation.sampling.temperature, 0.0f);
  EXPECT_EQ(r->generation.sampling.top_k, 0);
  EXPECT_FLOAT_EQ(r->generation.sampling.top_p, 1.0f);
  EXPECT_FLOAT_EQ(r->generation.sampling.min_p, 0.0f);
  StatusOr<CompletionRequest> c = ParseCompletionRequest(Completion({{"top_p", 0.5}}), limits, &param);
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_FLOAT_EQ(c->generation.sampling.temperature, 0.8f);
  EXPECT_FLOAT_EQ(c->generation.sampling.top_p, 0.5f);
}

TEST(ParseChatRequestTest, AllParameters) {
  json body = Chat({{"model", "m"},
                    {"max_tokens", 7},
                    {"temperature", 0.5},
                    {"top_p", 0.9},
                    {"top_k", 40},
                    {"min_p", 0.05},
                    {"repetition_penalty", 1.1},
                    {"presence_penalty", -0.5},
                    {"frequency_penalty", 1.5},
                    {"seed", 42},
                    {"stop", {"\n\n", "END"}},
                    {"stream", true},
                    {"stream_options", {{"include_usage", true}}},
                    {"logprobs", true},
                    {"top_logprobs", 5},
                    {"n", 1},
                    {"user", "alice"},
                    {"ignore_eos", true}});
  std::string param;
  StatusOr<ChatRequest> r = ParseChatRequest(body, Limits(), &param);
  ASSERT_TRUE(r.ok()) << r.status().message();
  const GenerationRequest& g = r->generation;
  EXPECT_EQ(r->model, "m");
  EXPECT_EQ(g.max_tokens, 7);
  EXPECT_FLOAT_EQ(g.sampling.temperature, 0.5f);
  EXPECT_FLOAT_EQ(g.sampling.top_p, 0.9f);
  EXPECT_EQ(g.sampling.top_k, 40);
  EXPECT_FLOAT_EQ(g.sampling.min_p, 0.05f);
  EXPECT_FLOAT_EQ(g.sampling.repetition_penalty, 1.1f);
  EXPECT_FLOAT_EQ(g.sampling.presence_penalty, -0.5f);
  EXPECT_FLOAT_EQ(g.sampling.frequency_penalty, 1.5f);
  EXPECT_EQ(g.sampling.seed, 42u);
  EXPECT_TRUE(r->seed_given);
  EXPECT_EQ(g.stop, (std::vector<std::string>{"\n\n", "END"}));
  EXPECT_TRUE(r->stream);
  EXPECT_TRUE(r->include_usage);
  EXPECT_TRUE(r->logprobs);
  EXPECT_EQ(g.logprobs, 5);
  EXPECT_EQ(r->user, "alice");
  EXPECT_EQ(g.session_id, "alice");
  EXPECT_TRUE(g.ignore_eos);
}

TEST(ParseChatRequestTest, MaxCompletionTokensWinsAndNullsAreAbsent) {
  std::string param;
  StatusOr<ChatRequest> r = ParseChatRequest(
      Chat({{"max_tokens", 5}, {"max_completion_tokens", 9}, {"temperature", nullptr},
            {"stop", nullptr}, {"seed", nullptr}}),
      Limits(), &param);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->generation.max_tokens, 9);
  EXPECT_FLOAT_EQ(r->generation.sampling.temperature, 1.0f);
  EXPECT_FALSE(r->seed_given);
  EXPECT_EQ(ChatError(Chat({{"max_completion_tokens", 0}})), "max_completion_tokens");
}

TEST(ParseChatRequestTest, StopAsStringAndTopKMinusOne) {
  std::string param;
  StatusOr<ChatRequest> r =
      ParseChatRequest(Chat({{"stop", "x"}, {"top_k", -1}, {"seed", -3}}), Limits(), &param);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->generation.stop, std::vector<std::string>{"x"});
  EXPECT_EQ(r->generation.sampling.top_k, 0);
  EXPECT_EQ(r->generation.sampling.seed, static_cast<uint64_t>(-3));
}

TEST(ParseChatRequestTest, ContentArraysAndRoles) {
  json body = {{"messages",
                {{{"role", "developer"}, {"content", "Be brief."}},
                 {{"role", "user"},
                  {"content",
                   {{{"type", "text"}, {"text", "Hello "}}, {{"type", "text"}, {"text", "there"}}}}},
                 {{"role", "assistant"}, {"content", nullptr}}}}};
  std::string param;
  StatusOr<ChatRequest> r = ParseChatRequest(body, Limits(), &param);
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(r->messages.size(), 3u);
  EXPECT_EQ(r->messages[0].role, "system");
  EXPECT_EQ(r->messages[1].content, "Hello there");
  EXPECT_EQ(r->messages[2].content, "");
}

TEST(ParseChatRequestTest, RejectsBadMessages) {
  auto with = [](json messages) { return json{{"messages", messages}}; };
  EXPECT_EQ(ChatError(json::object()), "messages");
  EXPECT_EQ(ChatError(with(json::array())), "messages");
  EXPECT_EQ(ChatError(with("hi")), "messages");
  EXPECT_EQ(ChatError(with({1})), "messages");
  EXPECT_EQ(ChatError(with({{{"content", "x"}}})), "messages");
  EXPECT_EQ(ChatError(with({{{"role", 3}, {"content", "x"}}})), "messages");
  EXPECT_EQ(ChatError(with({{{"role", "tool"}, {"content", "x"}}})), "messages");
  EXPECT_EQ(ChatError(with({{{"role", "user"}}})), "messages");
  EXPECT_EQ(ChatError(with({{{"role", "user"}, {"content", 5}}})), "messages");
  EXPECT_EQ(ChatError(with({{{"role", "user"}, {"content", {"x"}}}})), "messages");
  EXPECT_EQ(ChatError(with({{{"role", "user"},
                             {"content", {{{"type", "image_url"}, {"image_url", "u"}}}}}})),
            "messages");
  EXPECT_EQ(ChatError(with({{{"role", "user"}, {"content", {{{"type", "text"}}}}}})), "messages");
}

TEST(ParseChatRequestTest, RejectsEveryBadParameter) {
  const std::vector<std::pair<json, std::string>> cases = {
      {{{"model", 3}}, "model"},
      {{{"max_tokens", 0}}, "max_tokens"},
      {{{"max_tokens", -1}}, "max_tokens"},
      {{{"max_tokens", 1001}}, "max_tokens"},
      {{{"max_tokens", 1.5}}, "max_tokens"},
      {{{"max_tokens", "10"}}, "max_tokens"},
      {{{"temperature", -0.1}}, "temperature"},
      {{{"temperature", "hot"}}, "temperature"},
      {{{"temperature", 101}}, "temperature"},
      {{{"top_p", 0}}, "top_p"},
      {{{"top_p", 1.01}}, "top_p"},
      {{{"top_k", -2}}, "top_k"},
      {{{"top_k", 2.5}}, "top_k"},
      {{{"min_p", -0.1}}, "min_p"},
      {{{"min_p", 1.1}}, "min_p"},
      {{{"repetition_penalty", 0}}, "repetition_penalty"},
      {{{"repetition_penalty", -1}}, "repetition_penalty"},
      {{{"presence_penalty", 2.5}}, "presence_penalty"},
      {{{"presence_penalty", true}}, "presence_penalty"},
      {{{"frequency_penalty", -2.5}}, "frequency_penalty"},
      {{{"seed", "abc"}}, "seed"},
      {{{"seed", 1.5}}, "seed"},
      {{{"stop", 5}}, "stop"},
      {{{"stop", {"a", 1}}}, "stop"},
      {{{"stop", {"a", "b", "c", "d"}}}, "stop"},
      {{{"stop", ""}}, "stop"},
      {{{"stream", "yes"}}, "stream"},
      {{{"stream_options", {{"include_usage", true}}}}, "stream_options"},
      {{{"stream", true}, {"stream_options", 1}}, "stream_options"},
      {{{"stream", true}, {"stream_options", {{"include_usage", 1}}}}, "stream_options"},
      {{{"logprobs", 1}}, "logprobs"},
      {{{"logprobs", true}, {"top_logprobs", 21}}, "top_logprobs"},
      {{{"logprobs", true}, {"top_logprobs", -1}}, "top_logprobs"},
      {{{"top_logprobs", 2}}, "top_logprobs"},
      {{{"n", 17}}, "n"},
      {{{"n", 0}}, "n"},
      {{{"user", 5}}, "user"},
      {{{"ignore_eos", "true"}}, "ignore_eos"},
      // Lengths and counts, each bounded (RequestLimits).
      {{{"stop", std::string(1025, 'x')}}, "stop"},
      {{{"stop", {"a", std::string(1025, 'x')}}}, "stop"},
      {{{"user", std::string(257, 'u')}}, "user"},
      {{{"model", std::string(257, 'm')}}, "model"},
      {{{"n", 1000000}}, "n"},
      {{{"max_tokens", int64_t{1} << 40}}, "max_tokens"},
      {{{"logprobs", true}, {"top_logprobs", 1000000}}, "top_logprobs"},
  };
  for (const auto& [extra, param] : cases) {
    EXPECT_EQ(ChatError(Chat(extra)), param) << extra.dump();
  }
}

// logit_bias on both endpoints: string keys holding token ids in [0, vocab), numbers in
// [-100, 100], carried sorted into SamplingParams.
TEST(ParseChatRequestTest, LengthsAtTheLimitPassAndOneMoreFails) {
  RequestLimits l = Limits();
  EXPECT_EQ(ChatError(Chat({{"stop", std::string(l.max_stop_bytes, 'x')}})), "");
  EXPECT_EQ(ChatError(Chat({{"user", std::string(l.max_name_bytes, 'u')}})), "");
  json messages = json::array();
  for (int i = 0; i < l.max_messages; ++i) messages.push_back({{"role", "user"}, {"content", "x"}});
  EXPECT_EQ(ChatError({{"messages", messages}}), "");
  messages.push_back({{"role", "user"}, {"content", "x"}});
  EXPECT_EQ(ChatError({{"messages", messages}}), "messages");
  json parts = json::array();
  for (int i = 0; i < l.max_content_parts; ++i) parts.push_back({{"type", "text"}, {"text", "x"}});
  EXPECT_EQ(ChatError({{"messages", {{{"role", "user"}, {"content", parts}}}}}), "");
  parts.push_back({{"type", "text"}, {"text", "x"}});
  EXPECT_EQ(ChatError({{"messages", {{{"role", "user"}, {"content", parts}}}}}), "messages");
}

TEST(ParseLogitBiasTest, AcceptedOnBothEndpoints) {
  const json bias = {{"logit_bias", {{"42", 100}, {"7", -100}, {"0", 0.5}, {"99", -1.25}}}};
  std::string param;
  StatusOr<ChatRequest> chat = ParseChatRequest(Chat(bias), Limits(), &param);
  ASSERT_TRUE(chat.ok()) << chat.status().message();
  const std::vector<std::pair<int32_t, float>> want = {
      {0, 0.5f}, {7, -100.0f}, {42, 100.0f}, {99, -1.25f}};
  EXPECT_EQ(chat->generation.sampling.logit_bias, want);
  StatusOr<CompletionRequest> completion =
      ParseCompletionRequest(Completion(bias), Limits(), &param);
  ASSERT_TRUE(completion.ok()) << completion.status().message();
  EXPECT_EQ(completion->generation.sampling.logit_bias, want);
  // Absent, null and empty: no bias.
  for (const json& extra : {json::object(), json{{"logit_bias", nullptr}},
                            json{{"logit_bias", json::object()}}}) {
    StatusOr<ChatRequest> r = ParseChatRequest(Chat(extra), Limits(), &param);
    ASSERT_TRUE(r.ok());
    EXPECT_TRUE(r->generation.sampling.logit_bias.empty());
  }
}

TEST(ParseLogitBiasTest, RejectsBadIdsValuesAndShapes) {
  const std::vector<json> bad = {
      json::array({1, 2}),              // not an object
      "5",                              // not an object
      {{"100", 1}},                     // = vocab_size: outside
      {{"-1", 1}},                      // negative
      {{"99999999999999999999999", 1}},  // overflows
      {{"abc", 1}},                     // not an integer
      {{"1.5", 1}},                     // not an integer
      {{"1e2", 1}},                     // not an integer
      {{" 5", 1}},                      // not an integer
      {{"", 1}},                        // not an integer
      {{"5", 100.5}},                   // out of range
      {{"5", -101}},                    // out of range
      {{"5", "1"}},                     // not a number
      {{"5", nullptr}},                 // not a number
      {{"5", true}},                    // not a number
      {{"5", 1}, {"05", 2}},            // the same token twice
  };
  for (const json& b : bad) {
    EXPECT_EQ(ChatError(Chat({{"logit_bias", b}})), "logit_bias") << b.dump();
    EXPECT_EQ(CompletionError(Completion({{"logit_bias", b}})), "logit_bias") << b.dump();
  }
  // At most 1024 entries (ids checked against a large vocabulary here).
  RequestLimits big = Limits();
  big.vocab_size = 5000;
  json many = json::object();
  for (int i = 0; i < 1024; ++i) many[std::to_string(i)] = 1;
  std::string param;
  EXPECT_TRUE(ParseChatRequest(Chat({{"logit_bias", many}}), big, &param).ok());
  many["1024"] = 1;
  StatusOr<ChatRequest> r = ParseChatRequest(Chat({{"logit_bias", many}}), big, &param);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(param, "logit_bias");
  EXPECT_EQ(r.status().message(), "'logit_bias' has 1025 entries; at most 1024");
}

// Output-changing fields Parley lacks are refused by name; harmless values and unknown
// fields are accepted (refused_params_test.cc covers the whole table).
TEST(ParseChatRequestTest, RefusesUnsupportedFieldsAcceptsHarmlessOnes) {
  const std::vector<std::pair<json, std::string>> cases = {
      {{{"tools", {{{"type", "function"}, {"function", {{"name", "f"}}}}}}}, "tools"},
      {{{"tool_choice", "required"}}, "tool_choice"},
      {{{"response_format", {{"type", "json_object"}}}}, "response_format"},
      {{{"modalities", {"text", "audio"}}}, "modalities"},
      {{{"reasoning_effort", "low"}}, "reasoning_effort"},
      {{{"guided_json", {{"type", "object"}}}}, "guided_json"},
      {{{"tools", json::array()}, {"tool_choice", "none"}, {"parallel_tool_calls", true},
        {"response_format", {{"type", "text"}}}, {"modalities", {"text"}}, {"store", false},
        {"metadata", {{"k", "v"}}}, {"service_tier", "auto"}, {"prompt_cache_key", "p"},
        {"safety_identifier", "s"}, {"user", "u"}, {"an_unknown_field", 1}},
       ""},
  };
  for (const auto& [extra, param] : cases) {
    EXPECT_EQ(ChatError(Chat(extra)), param) << extra.dump();
  }
  // best_of and suffix are completions fields; chat ignores them like any unknown field.
  EXPECT_EQ(ChatError(Chat({{"suffix", "x"}, {"best_of", 3}})), "");
}

TEST(ParseCompletionRequestTest, PromptShapes) {
  std::string param;
  StatusOr<CompletionRequest> r = ParseCompletionRequest(Completion(), Limits(), &param);
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(r->prompts.size(), 1u);
  EXPECT_TRUE(r->prompts[0].is_text);
  EXPECT_EQ(r->prompts[0].text, "Once upon");
  EXPECT_EQ(r->generation.max_tokens, 16);  // OpenAI's default for completions

  r = ParseCompletionRequest({{"prompt", {"a", "b", ""}}}, Limits(), &param);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->prompts.size(), 3u);
  EXPECT_EQ(r->prompts[1].text, "b");
  EXPECT_EQ(r->prompts[2].text, "");

  r = ParseCompletionRequest({{"prompt", {1, 2, 99}}}, Limits(), &param);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->prompts.size(), 1u);
  EXPECT_FALSE(r->prompts[0].is_text);
  EXPECT_EQ(r->prompts[0].tokens, (std::vector<int32_t>{1, 2, 99}));

  r = ParseCompletionRequest({{"prompt", {{1, 2}, {3}}}}, Limits(), &param);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->prompts.size(), 2u);
  EXPECT_EQ(r->prompts[1].tokens, std::vector<int32_t>{3});
}

TEST(ParseCompletionRequestTest, RejectsBadPrompts) {
  EXPECT_EQ(CompletionError(json::object()), "prompt");
  EXPECT_EQ(CompletionError({{"prompt", 5}}), "prompt");
  EXPECT_EQ(CompletionError({{"prompt", json::array()}}), "prompt");
  EXPECT_EQ(CompletionError({{"prompt", {1, "a"}}}), "prompt");
  EXPECT_EQ(CompletionError({{"prompt", {"a", 1}}}), "prompt");
  EXPECT_EQ(CompletionError({{"prompt", {{1}, "a"}}}), "prompt");
  EXPECT_EQ(CompletionError({{"prompt", {{1}, json::array()}}}), "prompt");
  EXPECT_EQ(CompletionError({{"prompt", {100}}}), "prompt");  // vocab is 100
  EXPECT_EQ(CompletionError({{"prompt", {-1}}}), "prompt");
  EXPECT_EQ(CompletionError({{"prompt", {{1}, {2.5}}}}), "prompt");
  EXPECT_EQ(CompletionError({{"prompt", {"a", "b", "c", "d", "e"}}}), "prompt");  // > 4
}

TEST(ParseCompletionRequestTest, EchoLogprobsAndScoring) {
  std::string param;
  StatusOr<CompletionRequest> r = ParseCompletionRequest(
      Completion({{"echo", true}, {"logprobs", 1}, {"max_tokens", 0}}), Limits(), &param);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_TRUE(r->echo);
  EXPECT_EQ(r->logprobs, 1);
  EXPECT_EQ(r->generation.logprobs, 1);
  EXPECT_TRUE(r->generation.prompt_logprobs);
  EXPECT_EQ(r->generation.max_tokens, 0);

  r = ParseCompletionRequest(Completion({{"logprobs", 0}}), Limits(), &param);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->generation.logprobs, 0);
  EXPECT_FALSE(r->generation.prompt_logprobs);  // no echo: no prompt logprobs

  r = ParseCompletionRequest(Completion({{"echo", true}}), Limits(), &param);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->generation.prompt_logprobs);
}

TEST(ParseCompletionRequestTest, RejectsBadParameters) {
  const std::vector<std::pair<json, std::string>> cases = {
      {{{"logprobs", true}}, "logprobs"},
      {{{"logprobs", 21}}, "logprobs"},
      {{{"logprobs", -1}}, "logprobs"},
      {{{"echo", 1}}, "echo"},
      {{{"max_tokens", -1}}, "max_tokens"},
      {{{"max_tokens", 1001}}, "max_tokens"},
      {{{"n", 17}}, "n"},
      {{{"best_of", 2}}, "best_of"},
      {{{"best_of", "1"}}, "best_of"},
      {{{"suffix", "x"}}, "suffix"},
      {{{"suffix", 3}}, "suffix"},
      {{{"response_format", {{"type", "json_object"}}}}, "response_format"},
      {{{"min_tokens", 5}}, "min_tokens"},
      {{{"best_of", 1}, {"suffix", ""}, {"min_tokens", 0}, {"unknown", "x"}}, ""},
      {{{"best_of", 1.0}, {"n", 1}}, ""},
      {{{"temperature", nullptr}, {"top_p", "a"}}, "top_p"},
  };
  for (const auto& [extra, param] : cases) {
    EXPECT_EQ(CompletionError(Completion(extra)), param) << extra.dump();
  }
}

TEST(ParseTokenizeRequestTest, ContentAndFlags) {
  std::string param;
  StatusOr<TokenizeRequest> r =
      ParseTokenizeRequest({{"content", "hi"}, {"add_special", true}}, &param);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->content, "hi");
  EXPECT_TRUE(r->add_special);
  r = ParseTokenizeRequest({{"content", "hi"}}, &param);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->add_special);
  EXPECT_FALSE(ParseTokenizeRequest(json::object(), &param).ok());
  EXPECT_EQ(param, "content");
  EXPECT_FALSE(ParseTokenizeRequest({{"content", 1}}, &param).ok());
  EXPECT_FALSE(ParseTokenizeRequest({{"content", "x"}, {"add_special", "no"}}, &param).ok());
  EXPECT_EQ(param, "add_special");
}

TEST(ParseDetokenizeRequestTest, TokenIds) {
  std::string param;
  StatusOr<std::vector<int32_t>> r = ParseDetokenizeRequest({{"tokens", {1, 2}}}, Limits(), &param);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, (std::vector<int32_t>{1, 2}));
  EXPECT_TRUE(ParseDetokenizeRequest({{"tokens", json::array()}}, Limits(), &param).ok());
  EXPECT_FALSE(ParseDetokenizeRequest(json::object(), Limits(), &param).ok());
  EXPECT_FALSE(ParseDetokenizeRequest({{"tokens", {1, "a"}}}, Limits(), &param).ok());
  EXPECT_FALSE(ParseDetokenizeRequest({{"tokens", {1000}}}, Limits(), &param).ok());
  EXPECT_EQ(param, "tokens");
}

TEST(ParseChoicesTest, NIsBoundedAloneAndWithThePrompts) {
  std::string param;
  StatusOr<ChatRequest> chat = ParseChatRequest(Chat(), Limits(), &param);
  ASSERT_TRUE(chat.ok());
  EXPECT_EQ(chat->generation.n, 1);
  chat = ParseChatRequest(Chat({{"n", 16}}), Limits(), &param);
  ASSERT_TRUE(chat.ok());
  EXPECT_EQ(chat->generation.n, 16);
  EXPECT_EQ(ChatError(Chat({{"n", 2.0}})), "");
  EXPECT_EQ(ChatError(Chat({{"n", "2"}})), "n");
  EXPECT_EQ(ChatError(Chat({{"n", 1.5}})), "n");
  chat = ParseChatRequest(Chat({{"n", 17}}), Limits(), &param);
  ASSERT_FALSE(chat.ok());
  EXPECT_EQ(chat.status().message(), "'n' must be an integer in [1, 16], got 17");
  // Completions: prompts x n choices, at most max_prompts (4 here).
  StatusOr<CompletionRequest> r = ParseCompletionRequest(Completion({{"n", 4}}), Limits(), &param);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->generation.n, 4);
  EXPECT_EQ(CompletionError({{"prompt", {"a", "b"}}, {"n", 2}}), "");
  r = ParseCompletionRequest({{"prompt", {"a", "b", "c"}}, {"n", 2}}, Limits(), &param);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(param, "n");
  EXPECT_NE(r.status().message().find("6 choices; at most 4"), std::string::npos) << r.status().message();
  EXPECT_EQ(CompletionError(Completion({{"n", 5}})), "n");
}

}  // namespace
}  // namespace parley
