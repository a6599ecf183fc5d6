// Which request fields `parley serve` refuses and which it accepts and ignores, in one
// table (the README lists it). The rule: a field that would change the output is honoured
// or refused with a 400 naming it. Fields this table does not name are accepted and
// ignored, as OpenAI-compatible servers (vLLM, llama-server) do, so clients that send
// extra bookkeeping keep working; the known output-changing ones, OpenAI's and the
// vLLM / llama.cpp extensions clients send through `extra_body`, are named here so they
// never go silently unheeded. Pure data and pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include <nlohmann/json.hpp>

#include "base/status.h"

namespace parley {

enum ApiEndpoint : uint8_t { kChatEndpoint = 1, kCompletionsEndpoint = 2 };

// A field Parley does not implement. Present with a value outside `harmless` -> 400.
struct RefusedParam {
  const char* name;
  uint8_t endpoints;     // ApiEndpoint bits it is refused on
  const char* harmless;  // a JSON array of the values that change nothing ("[]": none)
  const char* reason;    // completes "'<name>' ...": what is missing, what to use instead
};

// Every refused field, OpenAI's first, then the vLLM and llama.cpp extensions.
std::span<const RefusedParam> RefusedParams();

// OpenAI fields accepted and ignored (they do not change the output). `user` and
// `stream_options` are parsed for their own uses and are not listed.
std::span<const char* const> IgnoredParams();

// The first refused field present in `body` with a value that is not harmless (JSON null
// counts as absent; best_of equal to the request's n is harmless): InvalidArgument, and
// *param (if not null) names it. REQUIRES: body.is_object().
Status CheckRefusedParams(const nlohmann::json& body, ApiEndpoint endpoint, std::string* param);

}  // namespace parley
