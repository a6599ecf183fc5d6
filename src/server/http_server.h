// HttpServer: `parley serve`'s HTTP front end on cpp-httplib. Routes the OpenAI endpoints
// (/v1/chat/completions, /v1/completions, /v1/models, and the same paths without /v1) and
// /health, /metrics, /tokenize, /detokenize; checks the API key; caps the body size;
// answers every error with an OpenAI error object; writes one access-log line per request
// to stderr. Serve() blocks the calling thread; Stop() may be called from any thread (e.g.
// a signal watcher).
#pragma once

#include <atomic>
#include <chrono>
#include <memory>

#include "base/status.h"
#include "server/server_context.h"

namespace httplib {
class Server;
}

namespace parley {

class HttpServer {
 public:
  // REQUIRES: engine, tokenizer, chat template and metrics outlive the server.
  HttpServer(const ServerOptions& options, Engine* engine, const Tokenizer& tokenizer,
             const ChatTemplate& chat_template, Metrics* metrics);
  ~HttpServer();

  // Binds host:port (port 0: a free port). Errors: the address is taken or invalid.
  Status Bind();
  // The bound port. REQUIRES: Bind() succeeded.
  int port() const { return port_; }
  // Accepts and serves connections until Stop(); returns once every worker is done.
  // REQUIRES: Bind() succeeded.
  Status Serve();

  // Graceful stop: /health turns 503 and new generation requests get 503; the engine shuts
  // down (running streams end with an error event, which their handlers forward); waits
  // up to `drain` for those handlers, then closes the listener and idle keep-alive
  // connections so Serve() returns. Idempotent; thread-safe.
  void Stop(std::chrono::milliseconds drain = std::chrono::milliseconds(3000));

  // A drain (SIGTERM in a fleet): /health and new generation requests get 503 at once, so a
  // load balancer moves traffic away; streams in flight run to their end for up to `finish`;
  // then the engine publishes its cached pages to the shared tier and waits up to `flush`
  // for Redis to have them (Engine::FlushRemote); then Stop() as above (streams still
  // running end with the error event). Thread-safe.
  void Drain(std::chrono::milliseconds finish, std::chrono::milliseconds flush);

 private:
  void Route();

  ServerContext ctx_;
  std::unique_ptr<httplib::Server> http_;
  int port_ = -1;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> serving_{false};  // inside Serve()
};

}  // namespace parley
