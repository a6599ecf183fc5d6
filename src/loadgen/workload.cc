#include "loadgen/workload.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "loadgen/corpus.h"
#include "loadgen/random.h"

namespace parley::loadgen {
namespace {

int32_t ToCount(double v, int32_t lo) { return std::max<int32_t>(lo, static_cast<int32_t>(std::lround(v))); }

// Appends sentences drawn without replacement from `pool` (a fresh permutation each pass)
// while that brings `text` nearer to `target` tokens (at least one when `text` is empty).
void FillTo(std::string* text, int32_t target, const char* const* pool, size_t n, Rng& rng, const char* sep) {
  std::vector<size_t> order(n);
  size_t next = n;
  int32_t tokens = EstimateTokens(*text);
  while (tokens < target) {
    if (next == n) {
      for (size_t i = 0; i < n; ++i) order[i] = i;
      for (size_t i = n - 1; i > 0; --i) std::swap(order[i], order[rng.Below(i + 1)]);
      next = 0;
    }
    const char* s = pool[order[next]];
    int32_t add = EstimateTokens(s);
    // Stop short when that lands nearer the target than overshooting would.
    if (!text->empty() && tokens + add - target > target - tokens) break;
    ++next;
    if (!text->empty()) *text += sep;
    *text += s;
    tokens += add;
  }
}

std::string MakePersona(int32_t target, Rng& rng) {
  std::string name = kCharacterNames[rng.Below(kNumCharacterNames)];
  std::string text = "You are " + name + ", " + kCharacterRoles[rng.Below(kNumCharacterRoles)] +
                     ". Stay in character as " + name + " for the whole conversation.";
  // About four fifths description, then example dialogue.
  FillTo(&text, target * 4 / 5, kPersonaSentences, kNumPersonaSentences, rng, " ");
  if (EstimateTokens(text) < target) {
    text += "\n\nExample conversation:";
    FillTo(&text, target, kExampleDialogue, kNumExampleDialogue, rng, "\n");
  }
  return text;
}

std::string MakeUserMessage(int32_t target, Rng& rng) {
  std::string text;
  FillTo(&text, std::max(1, target), kUserSentences, kNumUserSentences, rng, " ");
  return text;
}

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

int32_t EstimateTokens(const std::string& text) {
  int32_t words = 0;
  bool in_word = false;
  for (char c : text) {
    bool space = std::isspace(static_cast<unsigned char>(c)) != 0;
    if (!space && !in_word) ++words;
    in_word = !space;
  }
  return static_cast<int32_t>(std::lround(words * 1.3));
}

std::vector<ConversationPlan> MakeSyntheticWorkload(const SyntheticOptions& opts) {
  std::vector<ConversationPlan> plans;
  // Shared characters come from streams of their own, so a conversation's messages are the
  // same whichever character it draws.
  std::vector<std::string> characters;
  for (int32_t k = 0; k < opts.characters; ++k) {
    Rng rng = Rng::For(opts.seed ^ 0x6368617261637465ull, static_cast<uint64_t>(k));  // "characte"
    const int32_t persona = ToCount(opts.persona_tokens.Sample(rng), 0);
    characters.push_back(persona > 0 ? MakePersona(persona, rng) : "");
  }
  for (int32_t c = 0; c < opts.conversations; ++c) {
    Rng rng = Rng::For(opts.seed, static_cast<uint64_t>(c));
    ConversationPlan plan;
    plan.index = c;
    plan.session_id = "bench-" + std::to_string(opts.seed) + "-" + std::to_string(c);
    int32_t persona = ToCount(opts.persona_tokens.Sample(rng), 0);
    if (!characters.empty()) {
      plan.system_prompt = characters[rng.Below(characters.size())];
    } else if (persona > 0) {
      plan.system_prompt = MakePersona(persona, rng);
    }
    for (int32_t t = 0; t < opts.turns; ++t) {
      TurnPlan turn;
      turn.user_message = MakeUserMessage(ToCount(opts.user_tokens.Sample(rng), 1), rng);
      turn.max_tokens = ToCount(opts.reply_tokens.Sample(rng), 1);
      turn.think_time_s = opts.think_time_s.Sample(rng);
      plan.turns.push_back(std::move(turn));
    }
    plans.push_back(std::move(plan));
  }
  return plans;
}

StatusOr<std::vector<ConversationPlan>> ParseDataset(const std::string& json_text, const DatasetOptions& opts) {
  nlohmann::json doc = nlohmann::json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return Status::InvalidArgument("dataset is not valid JSON");
  if (!doc.is_array()) return Status::InvalidArgument("dataset must be a JSON list of conversations");
  std::vector<ConversationPlan> plans;
  for (size_t ci = 0; ci < doc.size(); ++ci) {
    if (opts.max_conversations > 0 && static_cast<int32_t>(plans.size()) >= opts.max_conversations) break;
    const nlohmann::json* turns = &doc[ci];
    if (turns->is_object()) {
      if (turns->contains("conversations")) {
        turns = &(*turns)["conversations"];
      } else if (turns->contains("messages")) {
        turns = &(*turns)["messages"];
      }
    }
    std::string where = "dataset conversation " + std::to_string(ci);
    if (!turns->is_array()) return Status::InvalidArgument(where + " is not a list of turns");
    ConversationPlan plan;
    plan.index = static_cast<int32_t>(plans.size());
    plan.session_id = "bench-" + std::to_string(opts.seed) + "-" + std::to_string(plan.index);
    Rng rng = Rng::For(opts.seed, static_cast<uint64_t>(plan.index));
    std::string pending_user;
    for (size_t ti = 0; ti < turns->size(); ++ti) {
      const nlohmann::json& t = (*turns)[ti];
      auto str = [&](const char* a, const char* b) -> const nlohmann::json* {
        if (!t.is_object()) return nullptr;
        if (t.contains(a) && t[a].is_string()) return &t[a];
        if (t.contains(b) && t[b].is_string()) return &t[b];
        return nullptr;
      };
      const nlohmann::json* role_j = str("from", "role");
      const nlohmann::json* text_j = str("value", "content");
      if (role_j == nullptr || text_j == nullptr) {
        return Status::InvalidArgument(where + " turn " + std::to_string(ti) +
                                       " needs string 'from'/'role' and 'value'/'content'");
      }
      std::string role = Lower(role_j->get<std::string>());
      const std::string text = text_j->get<std::string>();
      if (role == "system") {
        if (plan.system_prompt.empty() && plan.turns.empty() && pending_user.empty()) plan.system_prompt = text;
      } else if (role == "human" || role == "user") {
        if (!pending_user.empty()) pending_user += "\n\n";
        pending_user += text;
      } else if (role == "gpt" || role == "assistant" || role == "chatgpt" || role == "model" || role == "bot" ||
                 role == "bard" || role == "bing") {
        if (pending_user.empty()) continue;  // a reply with no question: nothing to send
        TurnPlan turn;
        turn.user_message = std::move(pending_user);
        pending_user.clear();
        turn.max_tokens = std::clamp(EstimateTokens(text), 1, std::max(1, opts.max_reply_tokens));
        turn.think_time_s = opts.think_time_s.Sample(rng);
        plan.turns.push_back(std::move(turn));
      } else {
        return Status::InvalidArgument(where + " turn " + std::to_string(ti) + " has unknown role '" + role + "'");
      }
      if (opts.max_turns > 0 && static_cast<int32_t>(plan.turns.size()) >= opts.max_turns) break;
    }
    if (!pending_user.empty() && (opts.max_turns == 0 || static_cast<int32_t>(plan.turns.size()) < opts.max_turns)) {
      TurnPlan turn;  // a last question with no reply in the file: give it a middling budget
      turn.user_message = std::move(pending_user);
      turn.max_tokens = std::min(128, std::max(1, opts.max_reply_tokens));
      turn.think_time_s = opts.think_time_s.Sample(rng);
      plan.turns.push_back(std::move(turn));
    }
    if (!plan.turns.empty()) plans.push_back(std::move(plan));
  }
  if (plans.empty()) return Status::InvalidArgument("dataset has no conversation with a user turn");
  return plans;
}

StatusOr<std::vector<ConversationPlan>> LoadDataset(const std::string& path, const DatasetOptions& opts) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::InvalidArgument("cannot read dataset " + path);
  std::stringstream buf;
  buf << in.rdbuf();
  auto plans = ParseDataset(buf.str(), opts);
  if (!plans.ok()) return plans.status().WithContext(path);
  return plans;
}

std::vector<Message> ConversationState::NextMessages() const {
  std::vector<Message> out;
  if (!plan_->system_prompt.empty()) out.push_back({"system", plan_->system_prompt});
  for (size_t i = 0; i < replies_.size(); ++i) {
    out.push_back({"user", plan_->turns[i].user_message});
    out.push_back({"assistant", replies_[i]});
  }
  out.push_back({"user", plan_->turns[replies_.size()].user_message});
  return out;
}

}  // namespace parley::loadgen
