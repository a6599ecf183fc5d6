// Shared machinery of the generation handlers (see generation_common.h).
#include "server/generation_common.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <random>

#include "server/connection.h"

namespace parley {
namespace {

using Clock = std::chrono::steady_clock;
constexpr std::chrono::milliseconds kWait(50);
constexpr std::chrono::milliseconds kAliveEvery(100);

uint64_t SplitMix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

uint64_t NextRandom() {
  static const uint64_t base = [] {
    std::random_device rd;
    return (static_cast<uint64_t>(rd()) << 32) ^ rd();
  }();
  static std::atomic<uint64_t> counter{0};
  return SplitMix64(base + counter.fetch_add(1));
}

void CancelAll(const std::vector<std::shared_ptr<RequestStream>>& streams) {
  for (const auto& s : streams) s->Cancel();
}

}  // namespace

RequestLog& ThisRequestLog() {
  thread_local RequestLog log;
  return log;
}

void SendJson(httplib::Response& res, int status, const nlohmann::json& body) {
  res.status = status;
  res.set_content(DumpJson(body), "application/json");
}

void SendError(httplib::Response& res, const ApiError& error) {
  // Overload (a full queue) and shutdown are both worth retrying, here or on a replica.
  if (error.http_status == 503 && !res.has_header("Retry-After")) res.set_header("Retry-After", "1");
  SendJson(res, error.http_status, ErrorJson(error));
}

std::string NewResponseId(const char* prefix) {
  char hex[32];
  const uint64_t a = NextRandom(), b = NextRandom();
  std::snprintf(hex, sizeof(hex), "%016llx%08llx", static_cast<unsigned long long>(a),
                static_cast<unsigned long long>(b & 0xffffffffull));
  return std::string(prefix) + hex;
}

uint64_t RandomSeed() { return NextRandom(); }

std::string SessionId(const httplib::Request& req, const std::string& user) {
  std::string id = req.get_header_value("X-Session-Id");
  return id.empty() ? user : id;
}

std::string BodyUser(const nlohmann::json& body) {
  auto it = body.find("user");
  return it != body.end() && it->is_string() ? it->get<std::string>() : "";
}

TokenTextFn TokenTexts(const Tokenizer& tokenizer) {
  return [&tokenizer](int32_t id) { return tokenizer.TokenBytes(id, /*include_special=*/true); };
}

bool CheckModel(const ServerContext& ctx, const std::string& model, httplib::Response& res) {
  if (model.empty() || model == ctx.options.model_name) return true;
  SendError(res, {404,
                  "The model '" + model + "' does not exist; this server serves '" +
                      ctx.options.model_name + "'",
                  "invalid_request_error", "model", "model_not_found"});
  return false;
}

void PrepareRequest(const httplib::Request& req, const GenerationFields& fields,
                    GenerationRequest* out) {
  out->session_id = SessionId(req, fields.user);
  if (!fields.seed_given) out->sampling.seed = RandomSeed();
  ThisRequestLog().session = out->session_id;
}

bool SubmitAll(ServerContext* ctx, std::vector<GenerationRequest> requests,
               std::vector<std::shared_ptr<RequestStream>>* streams, httplib::Response& res,
               const char* prompt_param) {
  int32_t prompt_tokens = 0;
  for (GenerationRequest& r : requests) {
    prompt_tokens += static_cast<int32_t>(r.prompt.size());
    StatusOr<std::vector<std::shared_ptr<RequestStream>>> s = ctx->engine->SubmitChoices(std::move(r));
    if (!s.ok()) {
      CancelAll(*streams);
      streams->clear();
      const Status& st = s.status();
      if (st.code() == StatusCode::kOutOfRange) {  // the engine's one: prompt > context
        SendError(res, {400, st.message(), "invalid_request_error", prompt_param,
                        "context_length_exceeded"});
        return false;
      }
      std::string param;
      if (st.code() == StatusCode::kInvalidArgument) {
        if (st.message().find("logit_bias") != std::string::npos) {
          param = "logit_bias";
        } else if (st.message().find("prompt") != std::string::npos) {
          param = prompt_param;
        }
      }
      SendError(res, ApiErrorFromStatus(st, param));
      return false;
    }
    for (std::shared_ptr<RequestStream>& choice : *s) streams->push_back(std::move(choice));
  }
  ThisRequestLog().prompt_tokens = prompt_tokens;
  return true;
}

void AddUsage(const Usage& choice, bool counts_prompt, Usage* total) {
  total->completion_tokens += choice.completion_tokens;
  total->draft_tokens += choice.draft_tokens;
  total->draft_accepted += choice.draft_accepted;
  total->prediction_accepted += choice.prediction_accepted;
  total->prediction_rejected += choice.prediction_rejected;
  if (!counts_prompt) return;
  total->prompt_tokens += choice.prompt_tokens;
  total->cached_tokens += choice.cached_tokens;
}

ApiError FinalError(const ServerContext& ctx, const EngineEvent& final_event) {
  if (ctx.shutting_down) {
    return {503, "the server is shutting down", "", "", ""};
  }
  if (final_event.finish == FinishReason::kCancelled) {
    return {500, "the request was cancelled", "", "", ""};
  }
  return {500, final_event.error.empty() ? "generation failed" : final_event.error, "", "", ""};
}

bool Drain(const std::vector<std::shared_ptr<RequestStream>>& streams,
           const std::function<bool()>& client_alive,
           const std::function<bool(size_t, EngineEvent&)>& on_event) {
  std::vector<bool> done(streams.size(), false);
  size_t left = streams.size();
  Clock::time_point last_check = Clock::now();
  // Handles one event; false when the caller must stop.
  auto handle = [&](size_t i, EngineEvent& ev) {
    const bool final = ev.finish != FinishReason::kNone;
    if (!on_event(i, ev)) return false;
    if (final) {
      done[i] = true;
      --left;
    }
    return true;
  };
  while (left > 0) {
    bool got = false;
    for (size_t i = 0; i < streams.size(); ++i) {
      while (!done[i]) {
        std::optional<EngineEvent> ev = streams[i]->Next(std::chrono::milliseconds(0));
        if (!ev) break;
        got = true;
        if (!handle(i, *ev)) {
          CancelAll(streams);
          return false;
        }
      }
    }
    if (left == 0) break;
    if (!got) {
      size_t w = 0;
      while (done[w]) ++w;
      std::optional<EngineEvent> ev = streams[w]->Next(kWait);
      if (ev && !handle(w, *ev)) {
        CancelAll(streams);
        return false;
      }
    }
    if (Clock::now() - last_check >= kAliveEvery) {
      last_check = Clock::now();
      if (!client_alive()) {
        CancelAll(streams);
        return false;
      }
    }
  }
  return true;
}

std::function<bool()> ConnectionAlive(const httplib::Request& req) {
  const int fd = FindConnectionSocket(req.remote_addr, req.remote_port, req.local_port);
  if (fd < 0) return [] { return true; };  // not found: assume the client waits
  return [fd] { return !PeerClosed(fd); };
}

void LogUsage(const Usage& usage) {
  RequestLog& log = ThisRequestLog();
  log.prompt_tokens = usage.prompt_tokens;
  log.completion_tokens = usage.completion_tokens;
  log.cached_tokens = usage.cached_tokens;
}

}  // namespace parley
