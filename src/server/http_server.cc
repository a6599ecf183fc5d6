// HttpServer: routes, authentication, limits, error bodies, the access log and HTTP
// metrics, and the small endpoints (/v1/models, /health, /metrics, /tokenize,
// /detokenize). The generation endpoints live in chat_handler.cc / completion_handler.cc.
#include "server/http_server.h"

#include <httplib.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <thread>

#include "server/connection.h"
#include "server/generation_handler.h"
#include "server/metrics_exporter.h"
#include "server/webui/webui.h"

namespace parley {
namespace {

using httplib::Request;
using httplib::Response;
using nlohmann::json;
using Handler = std::function<void(const Request&, Response&)>;
using Clock = std::chrono::steady_clock;

// Each connection's kernel send buffer (Linux doubles it for bookkeeping): ample for SSE and
// JSON responses, and what a client that stops reading can make the server hold.
constexpr int kSendBufferBytes = 256 << 10;

// Routes known to the metrics (anything else is counted as "other").
constexpr const char* kRoutes[] = {"/v1/chat/completions", "/v1/completions", "/v1/models",
                                   "/health", "/metrics", "/tokenize", "/detokenize"};

// The OpenAI API is served under /v1 and, as llama-server does, without it (clients whose
// base URL lacks /v1); both count under the /v1 route.
constexpr const char* kApiPrefixes[] = {"/v1", ""};

std::string RouteLabel(const std::string& path) {
  for (const char* r : kRoutes) {
    if (path == r) return r;
  }
  for (const char* bare : {"/chat/completions", "/completions", "/models"}) {
    if (path == bare) return std::string("/v1") + bare;
  }
  return path.rfind("/v1/models/", 0) == 0 || path.rfind("/models/", 0) == 0 ? "/v1/models"
                                                                              : "other";
}

// Compares without an early exit, so response time does not reveal the matching prefix.
bool ConstantTimeEquals(const std::string& given, const std::string& expected) {
  if (given.size() != expected.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < given.size(); ++i) diff |= given[i] ^ expected[i];
  return diff == 0;
}

const char* StatusText(int status) {
  switch (status) {
    case 400: return "Bad Request";
    case 405: return "Method Not Allowed";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 416: return "Range Not Satisfiable";
    case 417: return "Expectation Failed";
    case 429: return "Too Many Requests";
    default: return status >= 500 ? "Internal Server Error" : "request failed";
  }
}

// Printable, bounded text for one access-log field.
std::string LogField(const std::string& s) {
  if (s.empty()) return "-";
  std::string out;
  for (unsigned char c : s.substr(0, 64)) out += (c > 32 && c < 127 && c != '"') ? c : '?';
  return out;
}

json ModelJson(const ServerContext& ctx) {
  return {{"id", ctx.options.model_name},
          {"object", "model"},
          {"created", std::chrono::duration_cast<std::chrono::seconds>(
                          ctx.started.time_since_epoch()).count()},
          {"owned_by", "parley"},
          {"max_model_len", ctx.engine->options().max_context}};
}

}  // namespace

HttpServer::HttpServer(const ServerOptions& options, Engine* engine, const Tokenizer& tokenizer,
                       const ChatTemplate& chat_template, Metrics* metrics)
    : http_(std::make_unique<httplib::Server>()) {
  ctx_.options = options;
  ctx_.engine = engine;
  ctx_.tokenizer = &tokenizer;
  ctx_.chat_template = &chat_template;
  ctx_.metrics = metrics;
  ctx_.started = std::chrono::system_clock::now();
  const int32_t context = engine->options().max_context;
  ctx_.limits.max_tokens_limit =
      options.max_tokens_limit > 0 ? std::min(options.max_tokens_limit, context) : context;
  ctx_.limits.vocab_size = tokenizer.vocab_size();
  ctx_.limits.sampling_defaults = options.sampling_defaults;
  DeclareEngineMetrics(engine->Stats(), metrics);
  ctx_.clients.set_max_per_client(options.max_client_requests == 0
                                      ? std::max(64, 2 * engine->options().max_seqs)
                                      : std::max(0, options.max_client_requests));
  metrics->Declare("parley_http_requests_total", "counter", "HTTP requests by route and status.");
  metrics->Declare("parley_http_request_duration_seconds", "histogram",
                   "HTTP request duration (streams: until the last byte) by route.",
                   {0.005, 0.025, 0.1, 0.25, 1, 2.5, 10, 30, 120});
  Route();
}

HttpServer::~HttpServer() { Stop(std::chrono::milliseconds(0)); }

Status HttpServer::Bind() {
  const ServerOptions& o = ctx_.options;
  port_ = o.port == 0 ? http_->bind_to_any_port(o.host)
                      : (http_->bind_to_port(o.host, o.port) ? o.port : -1);
  if (port_ <= 0) {
    return Status::Error("cannot listen on " + o.host + ":" + std::to_string(o.port) +
                         " (address in use, or not an address of this machine)");
  }
  return Status::Ok();
}

Status HttpServer::Serve() {
  serving_ = true;
  if (stopping_) {  // Stop() came first (see Stop() for the other order)
    serving_ = false;
    return Status::Ok();
  }
  const bool ok = http_->listen_after_bind();
  serving_ = false;
  if (!ok) return Status::Error("the HTTP listener failed");
  return Status::Ok();
}

void HttpServer::Drain(std::chrono::milliseconds finish, std::chrono::milliseconds flush) {
  if (stopping_) return;
  ctx_.shutting_down = true;  // /health 503, new generation requests 503
  const auto deadline = Clock::now() + finish;
  while (ctx_.active_generations > 0 && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (flush.count() > 0) {
    const auto began = Clock::now();
    const int64_t pages = ctx_.engine->FlushRemote(flush);
    std::fprintf(stderr, "drain: %d streams left unfinished; %lld cached pages published to the shared tier in %.0f ms\n",
                 static_cast<int>(ctx_.active_generations), static_cast<long long>(pages),
                 std::chrono::duration<double, std::milli>(Clock::now() - began).count());
  }
  Stop();
}

void HttpServer::Stop(std::chrono::milliseconds drain) {
  if (stopping_.exchange(true)) return;
  ctx_.shutting_down = true;
  ctx_.engine->Shutdown();  // running streams get their final error event now
  const auto deadline = Clock::now() + drain;
  while (ctx_.active_generations > 0 && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  // cpp-httplib's stop() does nothing before the listener runs: if Serve() is starting,
  // let it get there first.
  for (int i = 0; i < 1000 && serving_ && !http_->is_running(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  http_->stop();
  // Workers parked on idle keep-alive connections would wait out their timeout.
  if (port_ > 0) ShutdownConnections(port_);
}

void HttpServer::Route() {
  httplib::Server& s = *http_;
  // One thread per open connection, idle keep-alive ones included (clients such as
  // `requests` leave them open): room for every stream plus that many idle connections.
  const int32_t threads = ctx_.options.http_threads > 0
                              ? ctx_.options.http_threads
                              : std::max(64, 4 * ctx_.engine->options().max_seqs + 8);
  s.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
  s.set_payload_max_length(static_cast<size_t>(ctx_.options.max_body_bytes));
  // A reader that stops reading (a stalled SSE client) fails the write after the write
  // timeout: cpp-httplib waits that long for the socket to take more, and SO_SNDTIMEO
  // bounds a send() that blocks part way. The handler then cancels the request and the
  // engine frees its pages. A fixed send buffer (the kernel would grow it to 4 MiB) bounds
  // what a stalled connection holds. Accepted sockets inherit these from the listener.
  const int32_t write_timeout = std::max(1, ctx_.options.write_timeout_s);
  s.set_write_timeout(write_timeout, 0);
  // cpp-httplib 0.11.4 sets SO_REUSEPORT, which lets a second server bind the same port
  // and silently share its connections: ask only for SO_REUSEADDR.
  s.set_socket_options([write_timeout](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
    timeval tv{write_timeout, 0};
    setsockopt(sock, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    int send_buffer = kSendBufferBytes;
    setsockopt(sock, SOL_SOCKET, SO_SNDBUF, &send_buffer, sizeof(send_buffer));
  });
  s.set_tcp_nodelay(true);  // SSE chunks are small: do not hold them back (Nagle)
  s.set_keep_alive_max_count(100);

  s.set_pre_routing_handler([](const Request&, Response&) {
    ThisRequestLog() = RequestLog{};
    ThisRequestLog().start = Clock::now();
    return httplib::Server::HandlerResponse::Unhandled;
  });

  // Every error without a body of its own (no route, body too large, malformed HTTP)
  // still answers with an OpenAI error object.
  s.set_error_handler(httplib::Server::HandlerWithResponse([this](const Request& req,
                                                                  Response& res) {
    if (!res.body.empty() || res.is_chunked_content_provider_) {
      return httplib::Server::HandlerResponse::Unhandled;
    }
    ApiError e{res.status, "", "", "", ""};
    switch (res.status) {
      case 404:
        e.message = "no route for " + req.method + " " + req.path;
        e.code = "not_found";
        break;
      case 413:
        e.message = "the request body is larger than the server's limit of " +
                    std::to_string(ctx_.options.max_body_bytes >> 20) + " MiB (--max-body-mb)";
        e.code = "request_too_large";
        break;
      case 499: e.message = "the client closed the connection"; break;
      case 400: e.message = "malformed HTTP request"; break;
      default: e.message = StatusText(res.status); break;
    }
    SendError(res, e);
    return httplib::Server::HandlerResponse::Handled;
  }));

  s.set_exception_handler([](const Request&, Response& res, std::exception_ptr ep) {
    std::string what = "unknown error";
    try {
      std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    SendError(res, {500, "internal error: " + what, "", "", ""});
  });

  s.set_logger([this](const Request& req, const Response& res) {
    RequestLog& log = ThisRequestLog();
    const double seconds =
        log.start == Clock::time_point{}
            ? 0.0
            : std::chrono::duration<double>(Clock::now() - log.start).count();
    const std::string route = RouteLabel(req.path);
    ctx_.metrics->Add("parley_http_requests_total", 1,
                      "route=\"" + route + "\",code=\"" + std::to_string(res.status) + "\"");
    ctx_.metrics->Observe("parley_http_request_duration_seconds", seconds,
                          "route=\"" + route + "\"");
    char when[32];
    const std::time_t now = std::time(nullptr);
    std::tm tm{};
    localtime_r(&now, &tm);
    std::strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
    std::fprintf(stderr, "%s %s %s %d session=%s prompt=%d completion=%d cached=%d %.1fms\n", when,
                 req.method.c_str(), LogField(req.path).c_str(), res.status,
                 LogField(log.session).c_str(), log.prompt_tokens, log.completion_tokens,
                 log.cached_tokens, seconds * 1e3);
    log = RequestLog{};
  });

  // Wraps a route: body limit (chunked uploads bypass cpp-httplib's own check), the API
  // key, and 503 for generation while shutting down.
  auto guarded = [this](bool auth, bool generation, Handler h) -> Handler {
    return [this, auth, generation, h](const Request& req, Response& res) {
      if (static_cast<int64_t>(req.body.size()) > ctx_.options.max_body_bytes) {
        res.status = 413;
        return;
      }
      if (auth && !ctx_.options.api_key.empty()) {
        const std::string header = req.get_header_value("Authorization");
        const std::string prefix = "Bearer ";
        const std::string key =
            header.rfind(prefix, 0) == 0 ? header.substr(prefix.size()) : std::string();
        if (!ConstantTimeEquals(key, ctx_.options.api_key)) {
          return SendError(res, {401,
                                 header.empty() ? "missing API key (Authorization: Bearer KEY)"
                                                : "invalid API key",
                                 "", "", "invalid_api_key"});
        }
      }
      if (generation && ctx_.shutting_down) {
        return SendError(res, {503, "the server is shutting down", "", "", ""});
      }
      // One client may have at most --max-client-requests generations in flight; the
      // request's ActiveGeneration holds the slot (ThisClientSlot) until its last byte.
      std::shared_ptr<void> slot;
      if (generation) {
        slot = ctx_.clients.TryAcquire(req.remote_addr);
        if (slot == nullptr) {
          return SendError(res, {429,
                                 "too many requests in flight from this client: at most " +
                                     std::to_string(ctx_.clients.max_per_client()) +
                                     " at once (--max-client-requests)",
                                 "rate_limit_error", "", "rate_limit_exceeded"});
        }
      }
      struct ClearSlot {
        ~ClearSlot() { ThisClientSlot().reset(); }
      } clear_slot;
      ThisClientSlot() = std::move(slot);
      h(req, res);
    };
  };
  auto not_allowed = [](const char* allowed) -> Handler {
    return [allowed](const Request& req, Response& res) {
      res.set_header("Allow", allowed);
      SendError(res, {405, req.method + " is not allowed here; use " + allowed, "", "", ""});
    };
  };

  ServerContext* ctx = &ctx_;
  for (const std::string prefix : kApiPrefixes) {
    s.Post(prefix + "/chat/completions",
           guarded(true, true, [ctx](const Request& req, Response& res) {
             HandleChatCompletions(ctx, req, res);
           }));
    s.Post(prefix + "/completions", guarded(true, true, [ctx](const Request& req, Response& res) {
             HandleCompletions(ctx, req, res);
           }));
    s.Get(prefix + "/models", guarded(true, false, [ctx](const Request&, Response& res) {
            SendJson(res, 200, {{"object", "list"}, {"data", json::array({ModelJson(*ctx)})}});
          }));
    s.Get(prefix + "/models/(.+)", guarded(true, false, [ctx](const Request& req, Response& res) {
            if (req.matches[1] == ctx->options.model_name) {
              return SendJson(res, 200, ModelJson(*ctx));
            }
            SendError(res, {404, "The model '" + req.matches[1].str() + "' does not exist",
                            "invalid_request_error", "model", "model_not_found"});
          }));
    for (const char* path : {"/chat/completions", "/completions"}) {
      s.Get(prefix + path, not_allowed("POST"));
    }
    s.Post(prefix + "/models", not_allowed("GET"));
  }
  s.Get("/health", guarded(false, false, [ctx](const Request&, Response& res) {
          if (ctx->shutting_down) return SendJson(res, 503, {{"status", "shutting_down"}});
          SendJson(res, 200, {{"status", "ok"}});
        }));
  s.Get("/metrics", guarded(false, false, [ctx](const Request&, Response& res) {
          // The engine's statistics, from its latest snapshot.
          ExportEngineStats(ctx->engine->Stats(), ctx->metrics);
          res.set_content(ctx->metrics->Render(), "text/plain; version=0.0.4");
        }));
  s.Post("/tokenize", guarded(true, false, [ctx](const Request& req, Response& res) {
           std::string param;
           StatusOr<json> body = ParseJsonObject(req.body, &param);
           if (!body.ok()) return SendError(res, ApiErrorFromStatus(body.status(), param));
           StatusOr<TokenizeRequest> r = ParseTokenizeRequest(*body, &param);
           if (!r.ok()) return SendError(res, ApiErrorFromStatus(r.status(), param));
           SendJson(res, 200,
                    {{"tokens", ctx->tokenizer->Encode(r->content, r->add_special, true)}});
         }));
  s.Post("/detokenize", guarded(true, false, [ctx](const Request& req, Response& res) {
           std::string param;
           StatusOr<json> body = ParseJsonObject(req.body, &param);
           if (!body.ok()) return SendError(res, ApiErrorFromStatus(body.status(), param));
           StatusOr<std::vector<int32_t>> ids = ParseDetokenizeRequest(*body, ctx->limits, &param);
           if (!ids.ok()) return SendError(res, ApiErrorFromStatus(ids.status(), param));
           SendJson(res, 200, {{"content", ctx->tokenizer->Decode(*ids, true)}});
         }));

  for (const char* path : {"/tokenize", "/detokenize"}) s.Get(path, not_allowed("POST"));
  for (const char* path : {"/health", "/metrics"}) s.Post(path, not_allowed("GET"));
  // The chat page is public; each API call it makes carries the user's key (--no-webui: 404).
  if (ctx_.options.webui) AddWebUiRoutes(s);
}

}  // namespace parley
