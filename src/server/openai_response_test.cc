// Response formatting: the JSON shapes the `openai` client parses (completions, chunks,
// usage, both logprob formats) and error objects.
#include "server/openai_response.h"

#include <gtest/gtest.h>

#include <cmath>

namespace parley {
namespace {

using nlohmann::json;

const ResponseMeta kMeta{"chatcmpl-1", 1700000000, "tiny", "parley-abc1234-gguf-f32-f16"};

std::string TokenText(int32_t id) {
  if (id == 7) return "\xE2";  // a partial UTF-8 character (byte token)
  std::string text = "t";  // (not "t" + ...: GCC 12 warns falsely, -Wrestrict)
  text += std::to_string(id);
  return text;
}

TEST(ApiErrorTest, StatusCodesMapToHttp) {
  EXPECT_EQ(ApiErrorFromStatus(Status::InvalidArgument("bad")).http_status, 400);
  EXPECT_EQ(ApiErrorFromStatus(Status::OutOfRange("too long")).http_status, 400);
  EXPECT_EQ(ApiErrorFromStatus(Status::Unavailable("full")).http_status, 503);
  EXPECT_EQ(ApiErrorFromStatus(Status::Error("boom")).http_status, 500);
  EXPECT_EQ(ApiErrorFromStatus(Status::Cancelled("x")).http_status, 500);
}

TEST(ApiErrorTest, ErrorObjectShape) {
  ApiError e = ApiErrorFromStatus(Status::InvalidArgument("'top_p' must be in (0, 1]"), "top_p");
  json j = ErrorJson(e);
  ASSERT_TRUE(j.contains("error"));
  EXPECT_EQ(j["error"]["message"], "'top_p' must be in (0, 1]");
  EXPECT_EQ(j["error"]["type"], "invalid_request_error");
  EXPECT_EQ(j["error"]["param"], "top_p");
  EXPECT_TRUE(j["error"]["code"].is_null());

  ApiError auth{401, "bad key", "", "", "invalid_api_key"};
  j = ErrorJson(auth);
  EXPECT_EQ(j["error"]["type"], "authentication_error");
  EXPECT_EQ(j["error"]["code"], "invalid_api_key");
  EXPECT_TRUE(j["error"]["param"].is_null());
  EXPECT_EQ(ErrorJson({503, "busy", "", "", ""})["error"]["type"], "service_unavailable_error");
  EXPECT_EQ(ErrorJson({404, "no", "", "", ""})["error"]["type"], "not_found_error");
  EXPECT_EQ(ErrorJson({413, "big", "", "", ""})["error"]["type"], "invalid_request_error");
  EXPECT_EQ(ErrorJson({500, "x", "", "", ""})["error"]["type"], "server_error");
}

// Every body and chunk names the build and configuration (system_fingerprint); an empty
// one is null, as OpenAI sends for some models.
TEST(ResponseMetaTest, SystemFingerprintEverywhere) {
  const std::vector<json> bodies = {
      ChatCompletionJson(kMeta, {{"x", FinishReason::kStop, nullptr}}, {}),
      ChatChunkJson(kMeta, 0, {{"content", "x"}}, nullptr, nullptr),
      CompletionJson(kMeta, {CompletionChoice{}}, {}),
      CompletionChunkJson(kMeta, 0, "x", nullptr, nullptr),
      UsageChunkJson(kMeta, "text_completion", {}),
  };
  for (const json& j : bodies) EXPECT_EQ(j["system_fingerprint"], "parley-abc1234-gguf-f32-f16");
  ResponseMeta none = kMeta;
  none.system_fingerprint = "";
  const json chunk = ChatChunkJson(none, 0, json::object(), nullptr, nullptr);
  EXPECT_TRUE(chunk["system_fingerprint"].is_null());
}

TEST(SseTest, DataLinesAndInvalidUtf8) {
  EXPECT_EQ(SseData(json{{"a", 1}}), "data: {\"a\":1}\n\n");
  EXPECT_STREQ(kSseDone, "data: [DONE]\n\n");
  // A byte token's text is not valid UTF-8 on its own: replaced, never thrown.
  EXPECT_EQ(DumpJson(json("\xE2")), "\"\xEF\xBF\xBD\"");
  EXPECT_EQ(DumpJson(json("h\xC3\xA9")), "\"h\xC3\xA9\"");  // valid UTF-8 kept as is
}

TEST(UsageTest, Shape) {
  json u = UsageJson({10, 5, 4});
  EXPECT_EQ(u["prompt_tokens"], 10);
  EXPECT_EQ(u["completion_tokens"], 5);
  EXPECT_EQ(u["total_tokens"], 15);
  EXPECT_EQ(u["prompt_tokens_details"]["cached_tokens"], 4);
}

TEST(FinishReasonTest, Names) {
  EXPECT_EQ(FinishReasonJson(FinishReason::kStop), "stop");
  EXPECT_EQ(FinishReasonJson(FinishReason::kLength), "length");
  EXPECT_TRUE(FinishReasonJson(FinishReason::kNone).is_null());
  EXPECT_TRUE(FinishReasonJson(FinishReason::kError).is_null());
}

TEST(ChatResponseTest, CompletionShape) {
  json j = ChatCompletionJson(kMeta, {{"Hello", FinishReason::kStop, nullptr}}, {3, 1, 0});
  EXPECT_EQ(j["id"], "chatcmpl-1");
  EXPECT_EQ(j["object"], "chat.completion");
  EXPECT_EQ(j["created"], 1700000000);
  EXPECT_EQ(j["model"], "tiny");
  ASSERT_EQ(j["choices"].size(), 1u);
  EXPECT_EQ(j["choices"][0]["index"], 0);
  EXPECT_EQ(j["choices"][0]["message"]["role"], "assistant");
  EXPECT_EQ(j["choices"][0]["message"]["content"], "Hello");
  EXPECT_EQ(j["choices"][0]["finish_reason"], "stop");
  EXPECT_TRUE(j["choices"][0]["logprobs"].is_null());
  EXPECT_EQ(j["usage"]["total_tokens"], 4);
  // n choices: each with its index, text, finish and logprobs.
  json lp = {{"content", json::array()}};
  j = ChatCompletionJson(kMeta, {{"a", FinishReason::kStop, nullptr}, {"b", FinishReason::kLength, lp}},
                         {3, 7, 0});
  ASSERT_EQ(j["choices"].size(), 2u);
  EXPECT_EQ(j["choices"][1]["index"], 1);
  EXPECT_EQ(j["choices"][1]["message"]["content"], "b");
  EXPECT_EQ(j["choices"][1]["finish_reason"], "length");
  EXPECT_EQ(j["choices"][1]["logprobs"], lp);
  EXPECT_EQ(j["choices"][0]["finish_reason"], "stop");
  EXPECT_EQ(j["usage"]["total_tokens"], 10);
}

TEST(ChatResponseTest, ChunkShapes) {
  json first = ChatChunkJson(kMeta, 0, {{"role", "assistant"}, {"content", ""}}, nullptr, nullptr);
  EXPECT_EQ(first["object"], "chat.completion.chunk");
  EXPECT_EQ(first["choices"][0]["index"], 0);
  EXPECT_EQ(first["choices"][0]["delta"]["role"], "assistant");
  EXPECT_TRUE(first["choices"][0]["finish_reason"].is_null());
  json last = ChatChunkJson(kMeta, 3, json::object(), "length", nullptr);
  EXPECT_EQ(last["choices"][0]["finish_reason"], "length");
  EXPECT_EQ(last["choices"][0]["index"], 3);
  EXPECT_TRUE(last["choices"][0]["delta"].empty());
  json usage = UsageChunkJson(kMeta, "chat.completion.chunk", {2, 3, 1});
  EXPECT_TRUE(usage["choices"].is_array());
  EXPECT_TRUE(usage["choices"].empty());
  EXPECT_EQ(usage["usage"]["completion_tokens"], 3);
  EXPECT_EQ(usage["object"], "chat.completion.chunk");
}

TEST(ChatLogprobsTest, EntriesWithBytesAndAlternatives) {
  std::vector<TokenLogprob> lps(2);
  lps[0] = {5, -0.25f, {{5, -0.25f}, {6, -1.5f}}};
  lps[1] = {7, -INFINITY, {}};
  json e = ChatLogprobEntries(lps, TokenText);
  ASSERT_EQ(e.size(), 2u);
  EXPECT_EQ(e[0]["token"], "t5");
  EXPECT_FLOAT_EQ(e[0]["logprob"].get<float>(), -0.25f);
  EXPECT_EQ(e[0]["bytes"], json({116, 53}));
  ASSERT_EQ(e[0]["top_logprobs"].size(), 2u);
  EXPECT_EQ(e[0]["top_logprobs"][1]["token"], "t6");
  EXPECT_FLOAT_EQ(e[0]["top_logprobs"][1]["logprob"].get<float>(), -1.5f);
  EXPECT_EQ(e[0]["top_logprobs"][1]["bytes"], json({116, 54}));
  EXPECT_EQ(e[1]["bytes"], json({0xE2}));
  EXPECT_EQ(e[1]["logprob"], -9999.0);  // -inf has no JSON form
  EXPECT_TRUE(e[1]["top_logprobs"].empty());
  EXPECT_NO_THROW(DumpJson(e));
}

TEST(LegacyLogprobsTest, PromptAndGeneratedTokens) {
  LegacyLogprobs lp;
  lp.Add({1, 0.0f, {}}, TokenText, /*first_prompt_token=*/true);
  lp.Add({12, -2.0f, {{3, -0.5f}}}, TokenText, false);
  lp.Add({4, -0.1f, {{4, -0.1f}, {40, -3.0f}}}, TokenText, false);
  EXPECT_FALSE(lp.empty());
  json j = lp.Take();
  EXPECT_TRUE(lp.empty());
  EXPECT_EQ(j["tokens"], json({"t1", "t12", "t4"}));
  EXPECT_TRUE(j["token_logprobs"][0].is_null());
  EXPECT_FLOAT_EQ(j["token_logprobs"][1].get<float>(), -2.0f);
  EXPECT_TRUE(j["top_logprobs"][0].is_null());
  EXPECT_FLOAT_EQ(j["top_logprobs"][1]["t3"].get<float>(), -0.5f);
  EXPECT_EQ(j["top_logprobs"][2].size(), 2u);
  EXPECT_EQ(j["text_offset"], json({0, 2, 5}));
  // Streaming: the offsets keep counting across Take().
  lp.Add({9, -1.0f, {}}, TokenText, false);
  EXPECT_EQ(lp.Take()["text_offset"], json({7}));
}

TEST(LegacyLogprobsTest, BaseOffsetAndDuplicateTexts) {
  LegacyLogprobs lp(10);
  lp.Add({2, -1.0f, {{2, -1.0f}, {2, -5.0f}}}, TokenText, false);
  json j = lp.Take();
  EXPECT_EQ(j["text_offset"], json({10}));
  EXPECT_EQ(j["top_logprobs"][0].size(), 1u);
  EXPECT_FLOAT_EQ(j["top_logprobs"][0]["t2"].get<float>(), -1.0f);
}

TEST(CompletionResponseTest, ChoicesInOrderAndChunks) {
  std::vector<CompletionChoice> choices(2);
  choices[0].text = "a";
  choices[0].finish = FinishReason::kLength;
  choices[1].text = "b";
  choices[1].finish = FinishReason::kStop;
  choices[1].logprobs = json{{"tokens", {"b"}}};
  json j = CompletionJson({"cmpl-2", 5, "tiny"}, choices, {4, 2, 0});
  EXPECT_EQ(j["object"], "text_completion");
  ASSERT_EQ(j["choices"].size(), 2u);
  EXPECT_EQ(j["choices"][0]["index"], 0);
  EXPECT_EQ(j["choices"][0]["text"], "a");
  EXPECT_EQ(j["choices"][0]["finish_reason"], "length");
  EXPECT_TRUE(j["choices"][0]["logprobs"].is_null());
  EXPECT_EQ(j["choices"][1]["index"], 1);
  EXPECT_EQ(j["choices"][1]["logprobs"]["tokens"][0], "b");
  EXPECT_EQ(j["usage"]["total_tokens"], 6);

  json c = CompletionChunkJson({"cmpl-2", 5, "tiny"}, 1, "x", nullptr, nullptr);
  EXPECT_EQ(c["object"], "text_completion");
  EXPECT_EQ(c["choices"][0]["index"], 1);
  EXPECT_EQ(c["choices"][0]["text"], "x");
  EXPECT_TRUE(c["choices"][0]["finish_reason"].is_null());
  EXPECT_FALSE(c.contains("usage"));
}

}  // namespace
}  // namespace parley
