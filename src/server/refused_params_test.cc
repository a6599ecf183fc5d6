// The refused-field table: every entry is refused on its endpoints (and only there) with a
// message naming it, its harmless values and JSON null pass, best_of equal to n passes,
// and the ignored fields are never refused.
#include "server/refused_params.h"

#include <gtest/gtest.h>

#include <set>

namespace parley {
namespace {

using nlohmann::json;

// The field CheckRefusedParams rejects `body` for ("" when it passes).
std::string Refused(const json& body, ApiEndpoint endpoint, std::string* message = nullptr) {
  std::string param;
  Status st = CheckRefusedParams(body, endpoint, &param);
  if (st.ok()) return "";
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  if (message != nullptr) *message = st.message();
  return param;
}

TEST(RefusedParamsTest, EveryEntryIsRefusedWhereItApplies) {
  std::set<std::string> names;
  for (const RefusedParam& p : RefusedParams()) {
    EXPECT_TRUE(names.insert(p.name).second) << "listed twice: " << p.name;
    EXPECT_NE(p.endpoints, 0) << p.name;
    const json harmless = json::parse(p.harmless);
    ASSERT_TRUE(harmless.is_array()) << p.name;
    for (ApiEndpoint e : {kChatEndpoint, kCompletionsEndpoint}) {
      const json body = {{p.name, {{"not", "harmless"}}}};
      std::string message;
      if (p.endpoints & e) {
        EXPECT_EQ(Refused(body, e, &message), p.name);
        EXPECT_EQ(message.rfind(std::string("'") + p.name + "' is not supported", 0), 0u)
            << message;
        for (const json& v : harmless) EXPECT_EQ(Refused({{p.name, v}}, e), "") << p.name << v;
      } else {
        EXPECT_EQ(Refused(body, e), "") << p.name;
      }
      EXPECT_EQ(Refused({{p.name, nullptr}}, e), "") << p.name;  // null: absent
    }
  }
  // The OpenAI fields the API reference documents and Parley lacks are all here.
  for (const char* name : {"tools", "tool_choice", "functions", "function_call", "response_format",
                           "audio", "modalities", "web_search_options",
                           "reasoning_effort", "best_of", "suffix"}) {
    EXPECT_TRUE(names.contains(name)) << name;
  }
}

TEST(RefusedParamsTest, MessagesNameTheAcceptedValues) {
  std::string message;
  EXPECT_EQ(Refused({{"tool_choice", "required"}}, kChatEndpoint, &message), "tool_choice");
  EXPECT_EQ(message,
            "'tool_choice' is not supported: Parley has no tool or function calling; accepted: "
            "\"none\" or \"auto\"");
  // Predicted Outputs are served (speculative decoding), not refused.
  EXPECT_EQ(Refused({{"prediction", {{"type", "content"}}}}, kChatEndpoint, &message), "");
  EXPECT_EQ(Refused({{"response_format", {{"type", "json_schema"}}}}, kChatEndpoint, &message),
            "response_format");
  EXPECT_NE(message.find(R"(accepted: {"type":"text"})"), std::string::npos) << message;
}

TEST(RefusedParamsTest, ToolsFirstAndBestOfEqualToN) {
  // With tools given, the tools are what is refused, even with tool_choice "auto".
  EXPECT_EQ(Refused({{"tools", {{{"type", "function"}}}}, {"tool_choice", "auto"}}, kChatEndpoint),
            "tools");
  EXPECT_EQ(Refused({{"tools", json::array()}, {"tool_choice", "auto"}}, kChatEndpoint), "");
  // best_of = n is n completions, each the best of one.
  EXPECT_EQ(Refused({{"best_of", 3}, {"n", 3}}, kCompletionsEndpoint), "");
  EXPECT_EQ(Refused({{"best_of", 1}}, kCompletionsEndpoint), "");
  EXPECT_EQ(Refused({{"best_of", 1.0}}, kCompletionsEndpoint), "");
  std::string message;
  EXPECT_EQ(Refused({{"best_of", 3}, {"n", 2}}, kCompletionsEndpoint, &message), "best_of");
  EXPECT_NE(message.find("or the value of n"), std::string::npos) << message;
  EXPECT_EQ(Refused({{"best_of", 3}}, kCompletionsEndpoint), "best_of");
  EXPECT_EQ(Refused({{"best_of", true}, {"n", true}}, kCompletionsEndpoint), "best_of");
}

TEST(RefusedParamsTest, IgnoredFieldsAndUnknownFieldsPass) {
  std::set<std::string> refused;
  for (const RefusedParam& p : RefusedParams()) refused.insert(p.name);
  json body = json::object();
  for (const char* name : IgnoredParams()) {
    EXPECT_FALSE(refused.contains(name)) << name;
    body[name] = {{"any", "value"}};
  }
  body["some_future_field"] = 1;
  EXPECT_EQ(Refused(body, kChatEndpoint), "");
  EXPECT_EQ(Refused(body, kCompletionsEndpoint), "");
}

}  // namespace
}  // namespace parley
