// Fuzzes the OpenAI request parsers: the first byte picks the endpoint, the rest is the
// body. Any body must give a request or an error naming a parameter, never a crash.
#include <cstddef>
#include <cstdint>
#include <string>

#include "server/openai_request.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t selector = data[0];
  auto body = parley::ParseJsonObject(
      std::string(reinterpret_cast<const char*>(data + 1), size - 1));
  if (!body.ok()) return 0;
  if (!body->is_object()) __builtin_trap();  // ParseJsonObject's contract
  parley::RequestLimits limits;
  limits.vocab_size = 49152;  // SmolLM2-135M's vocabulary
  std::string param;
  switch (selector % 4) {
    case 0:
      (void)parley::ParseChatRequest(*body, limits, &param);
      break;
    case 1: {
      auto r = parley::ParseCompletionRequest(*body, limits, &param);
      if (r.ok()) {
        for (const auto& p : r->prompts) {
          for (int32_t id : p.tokens) {
            if (id < 0 || id >= limits.vocab_size) __builtin_trap();  // must be refused
          }
        }
      }
      break;
    }
    case 2:
      (void)parley::ParseTokenizeRequest(*body, &param);
      break;
    case 3: {
      auto r = parley::ParseDetokenizeRequest(*body, limits, &param);
      if (r.ok()) {
        for (int32_t id : *r) {
          if (id < 0 || id >= limits.vocab_size) __builtin_trap();
        }
      }
      break;
    }
  }
  return 0;
}
