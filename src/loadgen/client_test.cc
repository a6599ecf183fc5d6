// The streaming client and the runner against a fake OpenAI-compatible server on
// 127.0.0.1 (cpp-httplib), whose behaviour each test's user messages choose: normal
// streams, HTTP errors, streams dropped half way, slow streams.
#include "loadgen/client.h"

#include <atomic>
#include <mutex>
#include <thread>

#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include "loadgen/report.h"
#include "loadgen/runner.h"

namespace parley::loadgen {
namespace {

struct Seen {
  std::string session;
  nlohmann::json body;
};

class FakeServer {
 public:
  FakeServer() {
    server_.Get("/v1/models", [](const httplib::Request&, httplib::Response& res) {
      res.set_content(R"({"object":"list","data":[{"id":"fake-model","object":"model"}]})", "application/json");
    });
    server_.Post("/v1/chat/completions", [this](const httplib::Request& req, httplib::Response& res) {
      nlohmann::json body = nlohmann::json::parse(req.body);
      {
        std::lock_guard<std::mutex> lock(mu_);
        seen_.push_back({req.get_header_value("X-Session-Id"), body});
      }
      const std::string last = body["messages"].back()["content"];
      if (last.find("FAIL500") != std::string::npos) {
        res.status = 500;
        res.set_content(R"({"error":{"message":"boom","type":"server_error"}})", "application/json");
        return;
      }
      // A fleet's balancer names the replica that answered (deploy/haproxy.cfg).
      if (last.find("REPLICA") != std::string::npos) res.set_header("X-Parley-Replica", "r2");
      int n = body["max_tokens"];
      bool drop = last.find("DROP") != std::string::npos;
      bool slow = last.find("SLOW") != std::string::npos;
      bool error_event = last.find("ERREVENT") != std::string::npos;
      int prompt = 0;
      for (const auto& m : body["messages"]) prompt += static_cast<int>(m["content"].get<std::string>().size());
      int cached = static_cast<int>(body["messages"].size()) > 1 ? prompt / 2 : 0;
      res.set_chunked_content_provider("text/event-stream", [=](size_t, httplib::DataSink& sink) {
        auto send = [&](const nlohmann::json& j) {
          std::string s = "data: " + j.dump() + "\n\n";
          return sink.write(s.data(), s.size());
        };
        send({{"choices", {{{"index", 0}, {"delta", {{"role", "assistant"}}}}}}});  // role only: not a token
        for (int i = 0; i < n; ++i) {
          if (slow) std::this_thread::sleep_for(std::chrono::milliseconds(50));
          if (!send({{"choices", {{{"index", 0}, {"delta", {{"content", "t" + std::to_string(i) + " "}}}}}}})) {
            return false;
          }
          if (drop && i == 1) return false;  // the connection closes mid-stream
        }
        if (error_event) {
          send({{"error", {{"message", "engine stopped"}}}});
        } else {
          send({{"choices", {{{"index", 0}, {"delta", nlohmann::json::object()}, {"finish_reason", "length"}}}}});
          send({{"choices", nlohmann::json::array()},
                {"usage",
                 {{"prompt_tokens", prompt},
                  {"completion_tokens", n},
                  {"prompt_tokens_details", {{"cached_tokens", cached}}}}}});
        }
        std::string done = "data: [DONE]\n\n";
        sink.write(done.data(), done.size());
        sink.done();
        return true;
      });
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~FakeServer() {
    server_.stop();
    thread_.join();
  }
  Endpoint endpoint() const { return *ParseEndpoint("http://127.0.0.1:" + std::to_string(port_), false); }
  std::vector<Seen> seen() {
    std::lock_guard<std::mutex> lock(mu_);
    return seen_;
  }

 private:
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
  std::mutex mu_;
  std::vector<Seen> seen_;
};

TurnRequest Turn(const std::string& text, int max_tokens) {
  TurnRequest r;
  r.messages = {{"user", text}};
  r.max_tokens = max_tokens;
  r.session_id = "s1";
  r.seed = 5;
  return r;
}

TEST(EndpointTest, ParsesUrlsAndRefusesRemoteHostsByDefault) {
  auto e = ParseEndpoint("http://127.0.0.1:8080", false);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->host, "127.0.0.1");
  EXPECT_EQ(e->port, 8080);
  EXPECT_EQ(e->base_path, "/v1");
  e = ParseEndpoint("localhost:9000/api/v1/", false);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->host, "localhost");
  EXPECT_EQ(e->base_path, "/api/v1");
  e = ParseEndpoint("http://[::1]:81", false);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->host, "::1");
  EXPECT_EQ(e->port, 81);
  EXPECT_FALSE(ParseEndpoint("http://10.0.0.5:8080", false).ok());
  EXPECT_FALSE(ParseEndpoint("http://127.0.0.1.evil.com:8080", false).ok());
  EXPECT_TRUE(ParseEndpoint("http://10.0.0.5:8080", true).ok());
  EXPECT_FALSE(ParseEndpoint("https://127.0.0.1", false).ok());
  EXPECT_FALSE(ParseEndpoint("http://127.0.0.1:0", false).ok());
  EXPECT_FALSE(ParseEndpoint("http://127.0.0.1:99999", false).ok());
  EXPECT_FALSE(ParseEndpoint("http://", false).ok());
}

TEST(ClientTest, StreamsATurnAndTimesEveryToken) {
  FakeServer server;
  Endpoint e = server.endpoint();
  auto model = FetchModelId(e, 5);
  ASSERT_TRUE(model.ok()) << model.status().message();
  EXPECT_EQ(*model, "fake-model");
  e.model = *model;
  TurnResult r = StreamChatTurn(e, Turn("hello", 5), 10, nullptr);
  ASSERT_TRUE(r.ok) << r.error_kind << ": " << r.error_message;
  EXPECT_EQ(r.http_status, 200);
  EXPECT_EQ(r.content, "t0 t1 t2 t3 t4 ");
  EXPECT_EQ(r.token_times_s.size(), 5u);
  EXPECT_GE(r.ttft_s, 0);
  EXPECT_EQ(r.ttft_s, r.token_times_s[0]);
  EXPECT_GE(r.e2e_s, r.token_times_s.back());
  EXPECT_EQ(r.finish_reason, "length");
  EXPECT_EQ(r.prompt_tokens, 5);
  EXPECT_EQ(r.completion_tokens, 5);
  EXPECT_EQ(r.cached_tokens, 0);
  EXPECT_EQ(r.replica, "");  // no balancer in front
  auto seen = server.seen();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].session, "s1");
  EXPECT_EQ(seen[0].body["model"], "fake-model");
  EXPECT_EQ(seen[0].body["stream"], true);
  EXPECT_EQ(seen[0].body["stream_options"]["include_usage"], true);
  EXPECT_EQ(seen[0].body["seed"], 5);
}

TEST(ClientTest, RecordsTheReplicaThatAnswered) {
  FakeServer server;
  TurnResult r = StreamChatTurn(server.endpoint(), Turn("hello REPLICA", 3), 10, nullptr);
  ASSERT_TRUE(r.ok) << r.error_kind << ": " << r.error_message;
  EXPECT_EQ(r.replica, "r2");
}

TEST(ClientTest, FailuresAreClassifiedNotThrown) {
  FakeServer server;
  Endpoint e = server.endpoint();
  TurnResult r = StreamChatTurn(e, Turn("FAIL500", 5), 10, nullptr);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error_kind, "http_500");
  EXPECT_EQ(r.error_message, "boom");

  r = StreamChatTurn(e, Turn("DROP", 8), 10, nullptr);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error_kind, "stream_dropped");
  EXPECT_EQ(r.token_times_s.size(), 2u);

  r = StreamChatTurn(e, Turn("ERREVENT", 2), 10, nullptr);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error_kind, "server_error");
  EXPECT_EQ(r.error_message, "engine stopped");

  r = StreamChatTurn(e, Turn("SLOW", 100), 0.3, nullptr);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error_kind, "timeout");
  EXPECT_LT(r.e2e_s, 3);

  std::atomic<bool> cancel{true};
  r = StreamChatTurn(e, Turn("SLOW", 100), 10, &cancel);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error_kind, "cancelled");

  Endpoint closed = *ParseEndpoint("http://127.0.0.1:1", false);  // nothing listens on port 1
  r = StreamChatTurn(closed, Turn("hi", 2), 5, nullptr);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error_kind, "connect");
}

std::vector<ConversationPlan> Plans(int conversations, int turns, const std::string& poison = "") {
  std::vector<ConversationPlan> plans;
  for (int c = 0; c < conversations; ++c) {
    ConversationPlan p;
    p.index = c;
    p.session_id = "conv-" + std::to_string(c);
    p.system_prompt = "persona " + std::to_string(c);
    for (int t = 0; t < turns; ++t) {
      std::string msg = "c" + std::to_string(c) + " t" + std::to_string(t);
      if (c == 1 && t == 1) msg += poison;
      p.turns.push_back({msg, 3, 0.0});
    }
    plans.push_back(p);
  }
  return plans;
}

RunOptions Quiet() {
  RunOptions o;
  o.users = 3;
  o.progress = false;
  o.request_timeout_s = 10;
  return o;
}

TEST(RunnerTest, ClosedLoopResendsEachConversationsHistory) {
  FakeServer server;
  auto plans = Plans(5, 3);
  RunResult run = RunWorkload(server.endpoint(), plans, Quiet());
  ASSERT_EQ(run.records.size(), 15u);
  EXPECT_EQ(run.turns_planned, 15);
  for (const auto& rec : run.records) EXPECT_TRUE(rec.result.ok) << rec.result.error_message;
  auto seen = server.seen();
  ASSERT_EQ(seen.size(), 15u);
  for (const Seen& s : seen) {
    const auto& m = s.body["messages"];
    int c = std::stoi(s.session.substr(5));
    int t = (static_cast<int>(m.size()) - 2) / 2;
    ASSERT_EQ(m.size(), static_cast<size_t>(2 + 2 * t));
    EXPECT_EQ(m[0]["content"], "persona " + std::to_string(c));
    for (int i = 0; i < t; ++i) {
      EXPECT_EQ(m[1 + 2 * i]["content"], "c" + std::to_string(c) + " t" + std::to_string(i));
      EXPECT_EQ(m[2 + 2 * i]["role"], "assistant");
      EXPECT_EQ(m[2 + 2 * i]["content"], "t0 t1 t2 ");  // the server's own reply, resent
    }
    EXPECT_EQ(m.back()["content"], "c" + std::to_string(c) + " t" + std::to_string(t));
  }
  Report rep = Analyze(run, "fake", "u", "fake-model");
  EXPECT_EQ(rep.ok, 15);
  ASSERT_EQ(rep.by_turn.size(), 3u);
  EXPECT_LT(rep.by_turn[0].mean_prompt_tokens, rep.by_turn[1].mean_prompt_tokens);
  EXPECT_LT(rep.by_turn[1].mean_prompt_tokens, rep.by_turn[2].mean_prompt_tokens);
}

TEST(RunnerTest, AFailedTurnIsCountedAndEndsOnlyItsConversation) {
  FakeServer server;
  RunResult run = RunWorkload(server.endpoint(), Plans(3, 3, " FAIL500"), Quiet());
  Report rep = Analyze(run, "fake", "u", "m");
  EXPECT_EQ(rep.requests, 8);  // conversation 1 stops after its failed second turn
  EXPECT_EQ(rep.failed, 1);
  EXPECT_EQ(rep.errors["http_500"], 1);
  EXPECT_EQ(rep.not_sent, 1);
}

TEST(RunnerTest, StopsAtTheRequestBound) {
  FakeServer server;
  RunOptions o = Quiet();
  o.max_requests = 4;
  RunResult run = RunWorkload(server.endpoint(), Plans(5, 3), o);
  EXPECT_EQ(run.records.size(), 4u);
  EXPECT_TRUE(run.hit_request_bound);
}

TEST(RunnerTest, StopsAtTheTimeBoundCancellingWhatIsInFlight) {
  FakeServer server;
  RunOptions o = Quiet();
  o.max_duration_s = 0.5;
  RunResult run = RunWorkload(server.endpoint(), Plans(4, 2, ""), o);
  EXPECT_TRUE(run.hit_time_bound || run.records.size() == 8u);
  auto slow = Plans(2, 3);
  for (auto& p : slow) p.turns[0].user_message += " SLOW", p.turns[0].max_tokens = 200;  // 10 s each
  auto t0 = std::chrono::steady_clock::now();
  run = RunWorkload(server.endpoint(), slow, o);
  double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_TRUE(run.hit_time_bound);
  EXPECT_LT(took, 5);
  ASSERT_EQ(run.records.size(), 2u);
  EXPECT_EQ(run.records[0].result.error_kind, "cancelled");
}

TEST(RunnerTest, InterleavedUsersSendATurnOfEachConversationInRotation) {
  FakeServer server;
  RunOptions o = Quiet();
  o.users = 1;
  o.interleave = true;
  RunResult run = RunWorkload(server.endpoint(), Plans(3, 2), o);
  ASSERT_EQ(run.records.size(), 6u);
  std::vector<std::string> order;
  for (const Seen& s : server.seen()) order.push_back(s.body["messages"].back()["content"]);
  EXPECT_EQ(order, (std::vector<std::string>{"c0 t0", "c1 t0", "c2 t0", "c0 t1", "c1 t1", "c2 t1"}));
}

TEST(RunnerTest, OpenLoopStartsConversationsAtTheRate) {
  FakeServer server;
  RunOptions o = Quiet();
  o.rate = 20;  // conversations per second
  RunResult run = RunWorkload(server.endpoint(), Plans(6, 2), o);
  EXPECT_EQ(run.records.size(), 12u);
  double first_turn_max = 0;
  for (const auto& rec : run.records) {
    if (rec.turn == 0) first_turn_max = std::max(first_turn_max, rec.start_s);
  }
  EXPECT_GT(first_turn_max, 0.01);  // arrivals are spread, not all at once
}

}  // namespace
}  // namespace parley::loadgen
