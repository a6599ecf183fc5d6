#include "loadgen/workload.h"

#include <set>

#include <gtest/gtest.h>

namespace parley::loadgen {
namespace {

SyntheticOptions Options() {
  SyntheticOptions o;
  o.conversations = 6;
  o.turns = 5;
  o.persona_tokens = *Distribution::Parse("normal:800:100");
  o.user_tokens = *Distribution::Parse("normal:40:10,min=5");
  o.reply_tokens = *Distribution::Parse("uniform:16:96");
  o.think_time_s = *Distribution::Parse("exp:1");
  o.seed = 42;
  return o;
}

bool SamePlans(const std::vector<ConversationPlan>& a, const std::vector<ConversationPlan>& b) {
  if (a.size() != b.size()) return false;
  for (size_t c = 0; c < a.size(); ++c) {
    if (a[c].system_prompt != b[c].system_prompt || a[c].session_id != b[c].session_id ||
        a[c].turns.size() != b[c].turns.size()) {
      return false;
    }
    for (size_t t = 0; t < a[c].turns.size(); ++t) {
      if (a[c].turns[t].user_message != b[c].turns[t].user_message || a[c].turns[t].max_tokens != b[c].turns[t].max_tokens ||
          a[c].turns[t].think_time_s != b[c].turns[t].think_time_s) {
        return false;
      }
    }
  }
  return true;
}

TEST(WorkloadTest, SameSeedSameWorkloadOtherSeedAnother) {
  SyntheticOptions o = Options();
  auto a = MakeSyntheticWorkload(o);
  auto b = MakeSyntheticWorkload(o);
  EXPECT_TRUE(SamePlans(a, b));
  o.seed = 43;
  EXPECT_FALSE(SamePlans(a, MakeSyntheticWorkload(o)));
}

TEST(WorkloadTest, AConversationDoesNotDependOnHowManyThereAre) {
  SyntheticOptions o = Options();
  auto six = MakeSyntheticWorkload(o);
  o.conversations = 2;
  auto two = MakeSyntheticWorkload(o);
  EXPECT_TRUE(SamePlans(two, {six[0], six[1]}));
}

TEST(WorkloadTest, ShapeFollowsTheOptions) {
  SyntheticOptions o = Options();
  o.conversations = 40;
  auto plans = MakeSyntheticWorkload(o);
  ASSERT_EQ(plans.size(), 40u);
  double persona = 0, user = 0, reply = 0, think = 0;
  int turns = 0;
  std::set<std::string> ids, personas;
  for (const auto& p : plans) {
    ids.insert(p.session_id);
    personas.insert(p.system_prompt);
    EXPECT_EQ(p.turns.size(), 5u);
    EXPECT_EQ(p.system_prompt.rfind("You are ", 0), 0u);
    persona += EstimateTokens(p.system_prompt);
    for (const auto& t : p.turns) {
      user += EstimateTokens(t.user_message);
      reply += t.max_tokens;
      think += t.think_time_s;
      EXPECT_GE(t.max_tokens, 16);
      EXPECT_LE(t.max_tokens, 96);
      ++turns;
    }
  }
  EXPECT_EQ(ids.size(), 40u);
  EXPECT_EQ(personas.size(), 40u);
  EXPECT_NEAR(persona / 40, 800, 30);  // filled to the nearest sentence
  EXPECT_NEAR(user / turns, 40, 4);
  EXPECT_NEAR(reply / turns, 56, 6);
  EXPECT_NEAR(think / turns, 1.0, 0.25);
}

TEST(WorkloadTest, EveryTurnResendsTheWholeHistory) {
  SyntheticOptions o = Options();
  auto plans = MakeSyntheticWorkload(o);
  ConversationState state(&plans[0]);
  for (int t = 0; t < 5; ++t) {
    ASSERT_FALSE(state.done());
    std::vector<Message> m = state.NextMessages();
    ASSERT_EQ(m.size(), static_cast<size_t>(2 + 2 * t));
    EXPECT_EQ(m[0].role, "system");
    EXPECT_EQ(m[0].content, plans[0].system_prompt);
    for (int i = 0; i < t; ++i) {
      EXPECT_EQ(m[1 + 2 * i].role, "user");
      EXPECT_EQ(m[1 + 2 * i].content, plans[0].turns[i].user_message);
      EXPECT_EQ(m[2 + 2 * i].role, "assistant");
      EXPECT_EQ(m[2 + 2 * i].content, "reply " + std::to_string(i));  // as the server returned it
    }
    EXPECT_EQ(m.back().role, "user");
    EXPECT_EQ(m.back().content, plans[0].turns[t].user_message);
    state.AddReply("reply " + std::to_string(t));
  }
  EXPECT_TRUE(state.done());
}

TEST(WorkloadTest, NoPersonaMeansNoSystemMessage) {
  SyntheticOptions o = Options();
  o.persona_tokens = Distribution::Fixed(0);
  auto plans = MakeSyntheticWorkload(o);
  EXPECT_TRUE(plans[0].system_prompt.empty());
  ConversationState state(&plans[0]);
  EXPECT_EQ(state.NextMessages().size(), 1u);
}

TEST(WorkloadTest, ParsesShareGptAndOpenAiStyleDatasets) {
  const char* json = R"([
    {"id": "a", "conversations": [
      {"from": "system", "value": "Be brief."},
      {"from": "human", "value": "Hi there"},
      {"from": "gpt", "value": "Hello! How can I help you today with anything at all?"},
      {"from": "human", "value": "Tell me"},
      {"from": "human", "value": "a joke"},
      {"from": "gpt", "value": "No."}]},
    [{"role": "user", "content": "Only a question"}],
    {"messages": [{"role": "assistant", "content": "orphan reply"}]},
    {"messages": [{"role": "user", "content": "q1"}, {"role": "assistant", "content": "a1"},
                  {"role": "user", "content": "q2"}, {"role": "assistant", "content": "a2"}]}
  ])";
  DatasetOptions o;
  auto plans = ParseDataset(json, o);
  ASSERT_TRUE(plans.ok()) << plans.status().message();
  ASSERT_EQ(plans->size(), 3u);  // the orphan-reply conversation has no user turn
  const auto& a = (*plans)[0];
  EXPECT_EQ(a.system_prompt, "Be brief.");
  ASSERT_EQ(a.turns.size(), 2u);
  EXPECT_EQ(a.turns[0].user_message, "Hi there");
  EXPECT_EQ(a.turns[0].max_tokens, EstimateTokens("Hello! How can I help you today with anything at all?"));
  EXPECT_EQ(a.turns[1].user_message, "Tell me\n\na joke");
  EXPECT_EQ((*plans)[1].turns.size(), 1u);
  EXPECT_EQ((*plans)[1].turns[0].user_message, "Only a question");
  EXPECT_EQ((*plans)[2].turns.size(), 2u);

  o.max_turns = 1;
  o.max_conversations = 2;
  plans = ParseDataset(json, o);
  ASSERT_TRUE(plans.ok());
  ASSERT_EQ(plans->size(), 2u);
  EXPECT_EQ((*plans)[0].turns.size(), 1u);
}

TEST(WorkloadTest, BadDatasetsFailClearly) {
  DatasetOptions o;
  for (const char* json : {"{", "{}", "[1]", R"([[{"from": "human"}]])", R"([[{"from": "alien", "value": "x"}]])",
                           R"([[{"from": "gpt", "value": "x"}]])"}) {
    auto plans = ParseDataset(json, o);
    EXPECT_FALSE(plans.ok()) << json;
  }
  EXPECT_FALSE(LoadDataset("/nonexistent/file.json", o).ok());
}

}  // namespace
}  // namespace parley::loadgen

namespace parley::loadgen {
namespace {

TEST(WorkloadTest, CharactersAreSharedPersonas) {
  SyntheticOptions o;
  o.conversations = 40;
  o.turns = 2;
  o.persona_tokens = Distribution::Fixed(200);
  o.characters = 3;
  const std::vector<ConversationPlan> plans = MakeSyntheticWorkload(o);
  std::set<std::string> personas;
  for (const ConversationPlan& p : plans) personas.insert(p.system_prompt);
  EXPECT_EQ(personas.size(), 3u);  // 40 draws from 3 characters: each drawn (1 in ~10^7 not)
  for (const std::string& p : personas) EXPECT_GT(EstimateTokens(p), 100);
  // Users stay distinct: the same character, different conversations.
  EXPECT_NE(plans[0].turns[0].user_message, plans[1].turns[0].user_message);
  o.characters = 0;
  std::set<std::string> own;
  for (const ConversationPlan& p : MakeSyntheticWorkload(o)) own.insert(p.system_prompt);
  EXPECT_EQ(own.size(), 40u);
}

}  // namespace
}  // namespace parley::loadgen
