// A streaming client for one OpenAI-compatible chat endpoint (Parley, llama-server, vLLM,
// ...): sends one turn with stream=true and times every token as it arrives.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"
#include "loadgen/workload.h"

namespace parley::loadgen {

struct Endpoint {
  std::string url;        // as given
  std::string host;
  int port = 80;
  std::string base_path;  // "/v1"
  std::string api_key;    // sent as a bearer token when set
  std::string model;      // the "model" field; "" = ask /v1/models
};

bool IsLoopbackHost(const std::string& host);
// Accepts http://HOST[:PORT][/PATH]; the path defaults to /v1. Non-loopback hosts are
// refused unless `allow_remote` (a load generator must not be pointed at others by accident).
StatusOr<Endpoint> ParseEndpoint(const std::string& url, bool allow_remote);

// The first model id the endpoint lists at /v1/models.
StatusOr<std::string> FetchModelId(const Endpoint& endpoint, double timeout_s);

struct TurnRequest {
  std::vector<Message> messages;
  int32_t max_tokens = 0;
  double temperature = 0;
  int64_t seed = -1;           // < 0: not sent
  std::string session_id;      // X-Session-Id
  bool ignore_eos = false;     // llama-server's extension; sent only when set
};

struct TurnResult {
  bool ok = false;
  std::string error_kind;      // "" when ok; connect, timeout, cancelled, http_NNN, stream_dropped, ...
  std::string error_message;
  int http_status = 0;
  double ttft_s = -1;          // send -> first content token; < 0 when none arrived
  double e2e_s = 0;            // send -> end of response
  std::vector<double> token_times_s;  // send -> each content chunk
  std::string content;         // the reply text
  std::string finish_reason;
  int32_t prompt_tokens = -1;      // from usage; -1 when the server sent none
  int32_t completion_tokens = -1;
  int32_t cached_tokens = -1;      // usage.prompt_tokens_details.cached_tokens; -1 when absent
  // Speculative decoding, when the server reports it: drafted tokens verified and those kept
  // (Parley: usage.completion_tokens_details.drafted_tokens / accepted_draft_tokens;
  // llama-server: timings.draft_n / draft_n_accepted); -1 when absent.
  int32_t draft_tokens = -1;
  int32_t draft_accepted = -1;
  // The replica that answered, from the response's X-Parley-Replica header (set by the
  // fleet's HAProxy, deploy/haproxy.cfg); "" without one. Tells a fleet bench which
  // conversations a replica's failure moved.
  std::string replica;
};

// Output tokens of a turn: the server's usage count, else the content chunks received.
inline int64_t OutputTokens(const TurnResult& r) {
  return r.completion_tokens >= 0 ? r.completion_tokens : static_cast<int64_t>(r.token_times_s.size());
}

// Streams one turn. Never throws; every failure is a TurnResult with ok == false. Stops
// early (error "cancelled") once `*cancel` becomes true, and after `timeout_s` in total.
TurnResult StreamChatTurn(const Endpoint& endpoint, const TurnRequest& request, double timeout_s,
                          const std::atomic<bool>* cancel);

// The request body StreamChatTurn sends (exposed for tests).
std::string ChatRequestBody(const Endpoint& endpoint, const TurnRequest& request);

}  // namespace parley::loadgen
