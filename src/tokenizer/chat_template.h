// Chat templates: turn a list of messages into the prompt text a model was trained on.
// Supported: Gemma ("<start_of_turn>user\n...<end_of_turn>\n") and ChatML
// ("<|im_start|>role\n...<|im_end|>\n"). The template is chosen from the GGUF's
// tokenizer.chat_template (by recognising its markers), or named by the user. A file without
// tokenizer.chat_template (the Gemma 3 270M GGUF has none) falls back to the turn-marker tokens
// its vocabulary has. Immutable; Render is thread-safe.
#pragma once

#include <string>
#include <vector>

#include "base/status.h"
#include "gguf/gguf.h"

namespace parley {

struct ChatMessage {
  std::string role;     // "system", "user", "assistant" (Gemma renders "model")
  std::string content;
};

enum class ChatTemplateKind { kGemma, kChatML };
// Where the template came from: the file's tokenizer.chat_template, the turn-marker tokens of
// a file that has none (a fallback: such files are often base models), or the user.
enum class ChatTemplateSource { kFile, kVocabulary, kOverride };

class ChatTemplate {
 public:
  // override_name: "" (detect from the file), "gemma" or "chatml". Errors ask the user for
  // --chat-template when the format cannot be recognised.
  static StatusOr<ChatTemplate> FromGguf(const GgufFile& gguf, const std::string& override_name);
  static StatusOr<ChatTemplate> FromName(const std::string& name);

  ChatTemplateKind kind() const { return kind_; }
  ChatTemplateSource source() const { return source_; }
  const char* name() const;
  // For start-up: a warning naming the fallback template when the file has no chat template
  // (source() == kVocabulary), else "".
  std::string FallbackWarning(const std::string& model_path) const;
  // The prompt text for `messages`, ending with the assistant-turn opener when
  // add_generation_prompt. Includes the BOS text where the template has it (Gemma: "<bos>"),
  // so tokenize the result with add_special=false, parse_special=true.
  // Errors on roles the template cannot express (e.g. Gemma: non-alternating turns).
  StatusOr<std::string> Render(const std::vector<ChatMessage>& messages,
                               bool add_generation_prompt) const;

 private:
  explicit ChatTemplate(ChatTemplateKind kind, std::string default_system = "")
      : kind_(kind), default_system_(std::move(default_system)) {}
  ChatTemplateKind kind_;
  ChatTemplateSource source_ = ChatTemplateSource::kOverride;
  std::string default_system_;  // ChatML: system turn inserted when none is given
};

}  // namespace parley
