// What every HTTP handler of `parley serve` shares: the options, the engine and the
// model's tokenizer and chat template (read-only, thread-safe), the metrics registry, and
// the shutdown state. Also the per-request access-log record, which lives in a
// thread_local because cpp-httplib runs a request's handler, its content provider and the
// logger on the same worker thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "engine/engine.h"
#include "engine/metrics.h"
#include "server/client_limiter.h"
#include "server/openai_request.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/tokenizer.h"

namespace parley {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;                    // 0: any free port (see HttpServer::port())
  std::string api_key;                // "": no authentication
  std::string model_name = "parley";  // what /v1/models lists and requests may name
  int64_t max_body_bytes = 8 << 20;
  int32_t max_tokens_limit = 0;       // 0: the engine's context size
  int32_t http_threads = 0;           // 0: max(64, 4 * max_seqs + 8)
  // Generation requests one client address may have in flight (429 beyond); 0: max(64, 2 *
  // max_seqs), half the default HTTP workers; -1: no cap.
  int32_t max_client_requests = 0;
  // A response write that makes no progress for this long fails: the client is treated as
  // gone and its request cancelled (a reader that stops reading an SSE stream).
  int32_t write_timeout_s = 30;
  bool webui = true;                  // serve the chat page at "/" (server/webui/)
  // Every response and chunk carries it: the build and the configuration that shape the
  // output (cmd_serve.cc: "parley-<git hash>-<weights>-<activations>-<kv dtype>").
  std::string system_fingerprint = "parley";
  // Sampling for requests that omit temperature / top_p / top_k / min_p.
  SamplingParams sampling_defaults = RequestLimits::OpenAiSamplingDefaults();
};

struct ServerContext {
  ServerOptions options;
  Engine* engine = nullptr;
  const Tokenizer* tokenizer = nullptr;
  const ChatTemplate* chat_template = nullptr;
  Metrics* metrics = nullptr;
  RequestLimits limits;
  std::chrono::system_clock::time_point started;
  std::atomic<bool> shutting_down{false};
  std::atomic<int32_t> active_generations{0};  // generation requests not yet answered
  ClientLimiter clients;                        // generation requests in flight per address
};

// The per-client slot (ClientLimiter) of the generation request this thread is serving,
// set by the HTTP layer around the handler; null outside one.
inline std::shared_ptr<void>& ThisClientSlot() {
  thread_local std::shared_ptr<void> slot;
  return slot;
}

// Counts a generation request as active for as long as it lives (Stop() waits for these),
// and holds its client's slot as long (a streaming job keeps both until its last byte).
class ActiveGeneration {
 public:
  explicit ActiveGeneration(ServerContext* ctx) : ctx_(ctx), client_slot_(ThisClientSlot()) {
    ctx_->active_generations++;
  }
  ~ActiveGeneration() { ctx_->active_generations--; }
  ActiveGeneration(const ActiveGeneration&) = delete;
  ActiveGeneration& operator=(const ActiveGeneration&) = delete;

 private:
  ServerContext* ctx_;
  std::shared_ptr<void> client_slot_;
};

// What the access-log line of the current request reports beyond method, path and status.
struct RequestLog {
  std::chrono::steady_clock::time_point start{};
  std::string session;
  int32_t prompt_tokens = -1;  // -1: not a generation request (or it failed early)
  int32_t completion_tokens = -1;
  int32_t cached_tokens = -1;
};
// The record of the request this thread is serving.
RequestLog& ThisRequestLog();

}  // namespace parley
