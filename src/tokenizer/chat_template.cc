// Gemma and ChatML prompt rendering, and recognising which one a GGUF's Jinja template is.
#include "tokenizer/chat_template.h"

#include <optional>
#include <string_view>

namespace parley {
namespace {

constexpr std::string_view kChatTemplateKey = "tokenizer.chat_template";
constexpr std::string_view kHint = "; pass --chat-template gemma or --chat-template chatml";

std::string Trim(std::string_view s) {
  const char* kSpace = " \t\n\r\f\v";
  const size_t begin = s.find_first_not_of(kSpace);
  if (begin == std::string_view::npos) return "";
  const size_t end = s.find_last_not_of(kSpace);
  return std::string(s.substr(begin, end - begin + 1));
}

// The system text a ChatML template inserts when the conversation has none, read from a
// string literal like '<|im_start|>system\nYou are ...<|im_end|>\n' (SmolLM2, Qwen 2.5).
// "" when the template has no such literal.
std::string DefaultSystemFromTemplate(const std::string& tmpl) {
  constexpr std::string_view kOpen = "<|im_start|>system";
  constexpr std::string_view kClose = "<|im_end|>";
  for (size_t pos = tmpl.find(kOpen); pos != std::string::npos; pos = tmpl.find(kOpen, pos + 1)) {
    size_t begin = pos + kOpen.size();
    if (tmpl.compare(begin, 1, "\n") == 0) {
      begin += 1;
    } else if (tmpl.compare(begin, 2, "\\n") == 0) {  // an escaped newline in the literal
      begin += 2;
    } else {
      continue;
    }
    const size_t end = tmpl.find(kClose, begin);
    if (end == std::string::npos) break;
    const std::string_view body(tmpl.data() + begin, end - begin);
    // Must be literal text inside the same quoted string: no quotes, no Jinja.
    if (body.empty() || body.find_first_of("'\"{}") != std::string_view::npos) continue;
    return std::string(body);
  }
  return "";
}

// For files without tokenizer.chat_template (the Gemma 3 270M GGUF has none): the format
// whose turn markers are tokens of the vocabulary, if exactly one is.
std::optional<ChatTemplateKind> KindFromVocabulary(const GgufFile& gguf) {
  const GgufValue* tokens = gguf.Find("tokenizer.ggml.tokens");
  if (tokens == nullptr) return std::nullopt;
  bool gemma_open = false, gemma_close = false, chatml_open = false, chatml_close = false;
  for (const std::string& t : tokens->strings) {
    gemma_open |= t == "<start_of_turn>";
    gemma_close |= t == "<end_of_turn>";
    chatml_open |= t == "<|im_start|>";
    chatml_close |= t == "<|im_end|>";
  }
  const bool gemma = gemma_open && gemma_close;
  const bool chatml = chatml_open && chatml_close;
  if (gemma == chatml) return std::nullopt;
  return gemma ? ChatTemplateKind::kGemma : ChatTemplateKind::kChatML;
}

}  // namespace

StatusOr<ChatTemplate> ChatTemplate::FromName(const std::string& name) {
  if (name == "gemma") return ChatTemplate(ChatTemplateKind::kGemma);
  if (name == "chatml") return ChatTemplate(ChatTemplateKind::kChatML);
  return Status::Error("unknown chat template '" + name + "'" + std::string(kHint));
}

StatusOr<ChatTemplate> ChatTemplate::FromGguf(const GgufFile& gguf,
                                              const std::string& override_name) {
  PARLEY_ASSIGN_OR_RETURN(std::optional<std::string> text,
                          gguf.GetString(std::string(kChatTemplateKey)));
  const std::string tmpl = text.value_or("");
  ChatTemplateKind kind;
  ChatTemplateSource source = ChatTemplateSource::kFile;
  if (!override_name.empty()) {
    source = ChatTemplateSource::kOverride;
    PARLEY_ASSIGN_OR_RETURN(ChatTemplate named, FromName(override_name));
    kind = named.kind();
  } else if (!text) {
    std::optional<ChatTemplateKind> from_vocab = KindFromVocabulary(gguf);
    if (!from_vocab) {
      return Status::Error(gguf.path() + ": the file has no chat template (" +
                           std::string(kChatTemplateKey) + ")" + std::string(kHint));
    }
    kind = *from_vocab;
    source = ChatTemplateSource::kVocabulary;
  } else if (tmpl.find("<start_of_turn>") != std::string::npos) {
    kind = ChatTemplateKind::kGemma;
  } else if (tmpl.find("<|im_start|>") != std::string::npos) {
    kind = ChatTemplateKind::kChatML;
  } else {
    return Status::Error(gguf.path() + ": the chat template (" + std::string(kChatTemplateKey) +
                         ") is not one Parley recognises" + std::string(kHint));
  }
  ChatTemplate out = kind == ChatTemplateKind::kChatML ? ChatTemplate(kind, DefaultSystemFromTemplate(tmpl))
                                                       : ChatTemplate(kind);
  out.source_ = source;
  return out;
}

std::string ChatTemplate::FallbackWarning(const std::string& model_path) const {
  if (source_ != ChatTemplateSource::kVocabulary) return "";
  return "warning: " + model_path + " has no chat template (" + std::string(kChatTemplateKey) +
         "); chat requests use the fallback template \"" + name() +
         "\" inferred from its turn-marker tokens. A file without a chat template is often a "
         "base (pretrained) model that continues text rather than following a chat; "
         "--chat-template gemma|chatml chooses the template explicitly";
}

const char* ChatTemplate::name() const {
  return kind_ == ChatTemplateKind::kGemma ? "gemma" : "chatml";
}

StatusOr<std::string> ChatTemplate::Render(const std::vector<ChatMessage>& messages,
                                           bool add_generation_prompt) const {
  std::string out;
  if (kind_ == ChatTemplateKind::kChatML) {
    if (!default_system_.empty() && !messages.empty() && messages[0].role != "system") {
      out += "<|im_start|>system\n" + default_system_ + "<|im_end|>\n";
    }
    for (const ChatMessage& m : messages) {
      if (m.role.empty() || m.role.find_first_of("\n<>|") != std::string::npos) {
        return Status::Error("chat message role '" + m.role + "' cannot be written in ChatML");
      }
      out += "<|im_start|>" + m.role + "\n" + m.content + "<|im_end|>\n";
    }
    if (add_generation_prompt) out += "<|im_start|>assistant\n";
    return out;
  }

  // Gemma: no system role (a leading system message is merged into the first user turn),
  // and turns must alternate user / model starting with user.
  out = "<bos>";
  std::string system_prefix;
  size_t first = 0;
  if (!messages.empty() && messages[0].role == "system") {
    system_prefix = Trim(messages[0].content) + "\n\n";
    first = 1;
  }
  for (size_t i = first; i < messages.size(); ++i) {
    const ChatMessage& m = messages[i];
    const bool expect_user = (i - first) % 2 == 0;
    const bool is_user = m.role == "user";
    const bool is_model = m.role == "assistant" || m.role == "model";
    if (!is_user && !is_model) {
      return Status::Error("the Gemma chat template has no role '" + m.role +
                           "' (it supports a leading system message, then user and assistant)");
    }
    if (is_user != expect_user) {
      return Status::Error(
          "the Gemma chat template needs turns that alternate user/assistant starting with "
          "user, but message " +
          std::to_string(i) + " is from '" + m.role + "'");
    }
    out += "<start_of_turn>";
    out += is_user ? "user" : "model";
    out += "\n";
    if (i == first) out += system_prefix;
    out += Trim(m.content) + "<end_of_turn>\n";
  }
  if (first == 1 && messages.size() == 1) {
    // Only a system message: it still reaches the model as the start of a user turn.
    out += "<start_of_turn>user\n" + system_prefix.substr(0, system_prefix.size() - 2) +
           "<end_of_turn>\n";
  }
  if (add_generation_prompt) out += "<start_of_turn>model\n";
  return out;
}

}  // namespace parley
