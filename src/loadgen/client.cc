#include "loadgen/client.h"

#include <chrono>
#include <cstdlib>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "loadgen/sse.h"

namespace parley::loadgen {
namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); }

httplib::Headers BaseHeaders(const Endpoint& e) {
  httplib::Headers h;
  if (!e.api_key.empty()) h.emplace("Authorization", "Bearer " + e.api_key);
  return h;
}

int32_t IntOr(const nlohmann::json& j, const char* key, int32_t fallback) {
  return j.is_object() && j.contains(key) && j[key].is_number_integer() ? j[key].get<int32_t>() : fallback;
}

void ReadUsage(const nlohmann::json& usage, TurnResult* r) {
  if (!usage.is_object()) return;
  r->prompt_tokens = IntOr(usage, "prompt_tokens", r->prompt_tokens);
  r->completion_tokens = IntOr(usage, "completion_tokens", r->completion_tokens);
  if (usage.contains("prompt_tokens_details")) {
    r->cached_tokens = IntOr(usage["prompt_tokens_details"], "cached_tokens", r->cached_tokens);
  }
  if (usage.contains("completion_tokens_details")) {
    const nlohmann::json& d = usage["completion_tokens_details"];
    r->draft_tokens = IntOr(d, "drafted_tokens", r->draft_tokens);
    r->draft_accepted = IntOr(d, "accepted_draft_tokens", r->draft_accepted);
  }
}

// llama-server's own figures: drafted and accepted tokens of speculative decoding.
void ReadTimings(const nlohmann::json& timings, TurnResult* r) {
  r->draft_tokens = IntOr(timings, "draft_n", r->draft_tokens);
  r->draft_accepted = IntOr(timings, "draft_n_accepted", r->draft_accepted);
}

}  // namespace

bool IsLoopbackHost(const std::string& host) {
  if (host == "localhost" || host == "::1" || host == "[::1]") return true;
  // 127.0.0.0/8 in dotted-quad form.
  if (host.rfind("127.", 0) != 0) return false;
  int dots = 0;
  for (char c : host) {
    if (c == '.') {
      ++dots;
    } else if (c < '0' || c > '9') {
      return false;
    }
  }
  return dots == 3;
}

StatusOr<Endpoint> ParseEndpoint(const std::string& url, bool allow_remote) {
  Endpoint e;
  e.url = url;
  std::string rest = url;
  if (rest.rfind("https://", 0) == 0) {
    return Status::InvalidArgument("https endpoints are not supported (" + url + "); use http://");
  }
  if (rest.rfind("http://", 0) == 0) rest = rest.substr(7);
  size_t slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  if (authority.empty()) return Status::InvalidArgument("no host in endpoint " + url);
  std::string path = slash == std::string::npos ? "" : rest.substr(slash);
  while (!path.empty() && path.back() == '/') path.pop_back();
  e.base_path = path.empty() ? "/v1" : path;
  // HOST:PORT, or [V6ADDR]:PORT
  size_t colon = authority.front() == '[' ? authority.find("]:") : authority.rfind(':');
  if (colon != std::string::npos) {
    if (authority.front() == '[') ++colon;
    std::string port = authority.substr(colon + 1);
    char* end = nullptr;
    long p = std::strtol(port.c_str(), &end, 10);
    if (port.empty() || *end != '\0' || p <= 0 || p > 65535) {
      return Status::InvalidArgument("bad port in endpoint " + url);
    }
    e.port = static_cast<int>(p);
    authority = authority.substr(0, colon);
  }
  e.host = authority;
  if (e.host.size() > 2 && e.host.front() == '[' && e.host.back() == ']') e.host = e.host.substr(1, e.host.size() - 2);
  if (e.host.empty()) return Status::InvalidArgument("no host in endpoint " + url);
  if (!allow_remote && !IsLoopbackHost(e.host)) {
    return Status::InvalidArgument("endpoint " + url +
                                   " is not on this machine; pass --allow-remote to load another host");
  }
  return e;
}

StatusOr<std::string> FetchModelId(const Endpoint& endpoint, double timeout_s) {
  httplib::Client cli(endpoint.host, endpoint.port);
  cli.set_connection_timeout(std::chrono::duration<double>(timeout_s));
  cli.set_read_timeout(std::chrono::duration<double>(timeout_s));
  auto res = cli.Get((endpoint.base_path + "/models").c_str(), BaseHeaders(endpoint));
  if (!res) return Status::Unavailable(endpoint.url + ": " + httplib::to_string(res.error()));
  if (res->status != 200) {
    return Status::Unavailable(endpoint.url + "/models answered HTTP " + std::to_string(res->status));
  }
  nlohmann::json j = nlohmann::json::parse(res->body, nullptr, false);
  if (j.is_object() && j.contains("data") && j["data"].is_array() && !j["data"].empty() &&
      j["data"][0].is_object() && j["data"][0].contains("id") && j["data"][0]["id"].is_string()) {
    return j["data"][0]["id"].get<std::string>();
  }
  return Status::Unavailable(endpoint.url + "/models lists no model");
}

std::string ChatRequestBody(const Endpoint& endpoint, const TurnRequest& request) {
  nlohmann::json messages = nlohmann::json::array();
  for (const Message& m : request.messages) messages.push_back({{"role", m.role}, {"content", m.content}});
  nlohmann::json body = {{"messages", std::move(messages)},
                         {"max_tokens", request.max_tokens},
                         {"temperature", request.temperature},
                         {"stream", true},
                         {"stream_options", {{"include_usage", true}}}};
  if (!endpoint.model.empty()) body["model"] = endpoint.model;
  if (request.seed >= 0) body["seed"] = request.seed;
  if (!request.session_id.empty()) body["user"] = request.session_id;
  if (request.ignore_eos) body["ignore_eos"] = true;
  return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

TurnResult StreamChatTurn(const Endpoint& endpoint, const TurnRequest& request, double timeout_s,
                          const std::atomic<bool>* cancel) {
  TurnResult r;
  bool done = false;        // [DONE] or a finish_reason arrived
  bool saw_error = false;   // an error object inside the stream
  bool timed_out = false;
  bool cancelled = false;
  std::string raw;          // the body of a non-2xx answer (kept short)
  const Clock::time_point start = Clock::now();

  SseParser sse([&](const std::string& data) {
    if (data == "[DONE]") {
      done = true;
      return;
    }
    nlohmann::json j = nlohmann::json::parse(data, nullptr, false);
    if (!j.is_object()) {
      saw_error = true;
      r.error_kind = "bad_response";
      r.error_message = "unparseable event: " + data.substr(0, 200);
      return;
    }
    if (j.contains("error")) {
      saw_error = true;
      r.error_kind = "server_error";
      const auto& e = j["error"];
      r.error_message = e.is_object() && e.contains("message") && e["message"].is_string()
                            ? e["message"].get<std::string>()
                            : e.dump();
      return;
    }
    if (j.contains("usage")) ReadUsage(j["usage"], &r);
    if (j.contains("timings")) ReadTimings(j["timings"], &r);
    if (!j.contains("choices") || !j["choices"].is_array() || j["choices"].empty()) return;
    const auto& choice = j["choices"][0];
    if (!choice.is_object()) return;
    if (choice.contains("delta") && choice["delta"].is_object()) {
      const auto& delta = choice["delta"];
      if (delta.contains("content") && delta["content"].is_string()) {
        const std::string& text = delta["content"].get_ref<const std::string&>();
        if (!text.empty()) {
          double t = Seconds(start, Clock::now());
          if (r.ttft_s < 0) r.ttft_s = t;
          r.token_times_s.push_back(t);
          r.content += text;
        }
      }
    }
    if (choice.contains("finish_reason") && choice["finish_reason"].is_string()) {
      r.finish_reason = choice["finish_reason"].get<std::string>();
      done = true;
    }
  });

  httplib::Client cli(endpoint.host, endpoint.port);
  cli.set_connection_timeout(std::chrono::duration<double>(std::min(timeout_s, 10.0)));
  cli.set_read_timeout(std::chrono::duration<double>(timeout_s));
  cli.set_write_timeout(std::chrono::duration<double>(timeout_s));
  cli.set_keep_alive(false);

  httplib::Request req;
  req.method = "POST";
  req.path = endpoint.base_path + "/chat/completions";
  req.headers = BaseHeaders(endpoint);
  req.headers.emplace("Content-Type", "application/json");
  req.headers.emplace("Accept", "text/event-stream");
  if (!request.session_id.empty()) req.headers.emplace("X-Session-Id", request.session_id);
  req.body = ChatRequestBody(endpoint, request);
  req.response_handler = [&](const httplib::Response& res) {
    r.http_status = res.status;
    r.replica = res.get_header_value("X-Parley-Replica");
    return true;
  };
  req.content_receiver = [&](const char* data, size_t n, uint64_t, uint64_t) {
    if (r.http_status >= 200 && r.http_status < 300) {
      sse.Feed(std::string_view(data, n));
    } else if (raw.size() < 2000) {
      raw.append(data, std::min(n, 2000 - raw.size()));
    }
    if (cancel != nullptr && cancel->load(std::memory_order_relaxed)) {
      cancelled = true;
      return false;
    }
    if (Seconds(start, Clock::now()) > timeout_s) {
      timed_out = true;
      return false;
    }
    return true;
  };
  httplib::Response res;
  httplib::Error err = httplib::Error::Success;
  bool sent = cli.send(req, res, err);
  if (r.http_status <= 0) r.http_status = std::max(0, res.status);
  if (r.http_status >= 200 && r.http_status < 300) sse.Finish();
  r.e2e_s = Seconds(start, Clock::now());

  if (cancelled) {
    r.error_kind = "cancelled";
    r.error_message = "stopped by the run's bound";
  } else if (timed_out || (err == httplib::Error::Read && r.e2e_s >= timeout_s)) {
    r.error_kind = "timeout";
    r.error_message = "no complete answer in " + std::to_string(timeout_s) + " s";
  } else if (!sent && r.http_status == 0) {
    r.error_kind = err == httplib::Error::Connection ? "connect" : "transport";
    r.error_message = httplib::to_string(err);
  } else if (r.http_status < 200 || r.http_status >= 300) {
    r.error_kind = "http_" + std::to_string(r.http_status);
    nlohmann::json j = nlohmann::json::parse(raw, nullptr, false);
    r.error_message = j.is_object() && j.contains("error") && j["error"].is_object() &&
                              j["error"].contains("message") && j["error"]["message"].is_string()
                          ? j["error"]["message"].get<std::string>()
                          : raw.substr(0, 300);
  } else if (saw_error) {
    // error_kind and message were set by the event
  } else if (!done) {
    r.error_kind = "stream_dropped";
    r.error_message = sent ? "the stream ended without a finish_reason or [DONE]" : httplib::to_string(err);
  } else {
    r.ok = true;
  }
  return r;
}

}  // namespace parley::loadgen
