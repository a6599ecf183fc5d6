// Fuzzes chat templates: the bytes become a message list (a role byte, then content up to
// the next 0xFF byte), rendered with the Gemma and ChatML templates. Roles include ones the
// templates refuse; rendering must give text or an error, never crash.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/chat_template.h"

namespace {

const char* const kRoles[] = {"system", "user", "assistant", "developer", "tool", "", "model",
                              "User"};

std::vector<parley::ChatMessage> MessagesFrom(const uint8_t* data, size_t size) {
  std::vector<parley::ChatMessage> messages;
  size_t i = 0;
  while (i < size) {
    parley::ChatMessage m;
    m.role = kRoles[data[i++] % (sizeof(kRoles) / sizeof(kRoles[0]))];
    while (i < size && data[i] != 0xFF) m.content.push_back(static_cast<char>(data[i++]));
    ++i;  // the separator
    messages.push_back(std::move(m));
  }
  return messages;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const parley::ChatTemplate gemma = *parley::ChatTemplate::FromName("gemma");
  static const parley::ChatTemplate chatml = *parley::ChatTemplate::FromName("chatml");
  const std::vector<parley::ChatMessage> messages = MessagesFrom(data, size);
  for (const parley::ChatTemplate* t : {&gemma, &chatml}) {
    for (bool add_generation_prompt : {false, true}) {
      auto text = t->Render(messages, add_generation_prompt);
      if (!text.ok()) continue;
      // Every message's content appears in the prompt (Gemma trims ASCII whitespace, as
      // its Jinja template's `| trim` does).
      for (const auto& m : messages) {
        std::string_view content = m.content;
        if (t == &gemma) {
          const size_t begin = content.find_first_not_of(" \t\n\r\f\v");
          content = begin == std::string_view::npos
                        ? std::string_view()
                        : content.substr(begin, content.find_last_not_of(" \t\n\r\f\v") -
                                                    begin + 1);
        }
        if (text->find(content) == std::string::npos) __builtin_trap();
      }
    }
  }
  return 0;
}
