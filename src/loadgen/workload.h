// The workload `parley bench` replays: conversations of turns, each turn resending the
// whole history (system prompt, every earlier user message, every earlier reply as the
// server returned it) plus a new user message, as a chat front end does.
//
// A workload is planned up front from a seed (synthetic) or read from a ShareGPT-style file;
// only the replies come from the server while it runs. The same options and seed give the
// same plan on any machine, so two endpoints can be compared on identical input.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"
#include "loadgen/distribution.h"

namespace parley::loadgen {

struct TurnPlan {
  std::string user_message;
  int32_t max_tokens = 0;     // the reply's length budget
  double think_time_s = 0;    // the user's pause before sending this turn
};

struct ConversationPlan {
  int32_t index = 0;
  std::string session_id;     // sent as X-Session-Id
  std::string system_prompt;  // the persona; "" = none
  std::vector<TurnPlan> turns;
};

struct SyntheticOptions {
  int32_t conversations = 32;
  int32_t turns = 12;
  Distribution persona_tokens = Distribution::Fixed(800);
  Distribution user_tokens = Distribution::Fixed(40);
  Distribution reply_tokens = Distribution::Fixed(96);   // max_tokens of each reply
  Distribution think_time_s = Distribution::Fixed(0);
  uint64_t seed = 1;
  // > 0: conversations draw their persona from this many shared characters (Character.AI's
  // case: many users talk to the same character, so its system prompt is a prefix shared
  // across conversations); 0: each conversation has its own persona.
  int32_t characters = 0;
};

// Rough tokens in English text (~1.3 tokens per word for BPE/SPM vocabularies of 32k-262k).
// Only used to size generated text; the report uses the server's own counts.
int32_t EstimateTokens(const std::string& text);

std::vector<ConversationPlan> MakeSyntheticWorkload(const SyntheticOptions& opts);

struct DatasetOptions {
  int32_t max_conversations = 0;   // 0 = all
  int32_t max_turns = 0;           // 0 = all
  int32_t max_reply_tokens = 1024; // cap on the reply budget taken from the file's replies
  Distribution think_time_s = Distribution::Fixed(0);
  uint64_t seed = 1;
};

// Parses ShareGPT-style JSON: a list of conversations, each a list of turns or an object
// with a "conversations" or "messages" list; a turn is {"from"|"role", "value"|"content"}.
// Roles: system; human/user; gpt/assistant/chatgpt/model/bot. Consecutive user messages are
// joined; a conversation's first system message becomes its system prompt. Each assistant
// turn gives the budget (its estimated tokens) of the reply to the user turn before it.
StatusOr<std::vector<ConversationPlan>> ParseDataset(const std::string& json_text, const DatasetOptions& opts);
StatusOr<std::vector<ConversationPlan>> LoadDataset(const std::string& path, const DatasetOptions& opts);

// One message of the OpenAI chat format.
struct Message {
  std::string role;
  std::string content;
};

// The live state of one conversation while it is replayed.
class ConversationState {
 public:
  explicit ConversationState(const ConversationPlan* plan) : plan_(plan) {}
  const ConversationPlan& plan() const { return *plan_; }
  int32_t next_turn() const { return static_cast<int32_t>(replies_.size()); }
  bool done() const { return next_turn() >= static_cast<int32_t>(plan_->turns.size()); }
  // The messages of the next turn: system prompt, every earlier exchange, the new message.
  std::vector<Message> NextMessages() const;
  // Records the server's reply to the next turn (what the next turns will resend).
  void AddReply(std::string reply) { replies_.push_back(std::move(reply)); }

 private:
  const ConversationPlan* plan_;
  std::vector<std::string> replies_;
};

}  // namespace parley::loadgen
