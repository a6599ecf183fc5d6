// Two engines (two "replicas", fake runners) sharing one real redis-server: a conversation
// served by one continues on the other with its history restored from Redis (cached tokens,
// the FakeRunner's page checks, the same tokens as the reference). Redis down: the same
// tokens, computed. Skipped without redis-server.
#include <gtest/gtest.h>

#include <thread>

#include "engine/engine.h"
#include "engine/fake_runner.h"
#include "engine/small_tokenizer.h"
#include "prefix_cache/testing/redis_server.h"

namespace parley {
namespace {

using testing::FakeRunner;
using testing::SmallTokenizer;
using namespace std::chrono_literals;

struct Replica {
  Replica(const std::string& url, const Tokenizer& tokenizer) : runner({4, 0}, {}, 64) {
    EngineOptions o;
    o.kv.page_size = 4;
    o.max_batch_tokens = 16;
    o.remote.url = url;
    o.remote.timeout_ms = 500;
    o.remote_wait_ms = 2000;  // generous: the test wants the answer, not the timeout
    o.remote_min_tokens = 8;
    o.remote_fingerprint = 1;
    o.check_integrity = true;
    engine = std::move(Engine::Create(&runner, tokenizer, o).value());
  }
  // Runs one greedy request to its end; returns its tokens and final event.
  std::vector<int32_t> Run(const std::vector<int32_t>& prompt, int32_t max_tokens, EngineEvent* last) {
    GenerationRequest r;
    r.prompt = prompt;
    r.max_tokens = max_tokens;
    r.ignore_eos = true;
    auto stream = engine->Submit(std::move(r));
    EXPECT_TRUE(stream.ok());
    std::vector<int32_t> tokens;
    for (int i = 0; i < 1000; ++i) {
      auto ev = (*stream)->Next(60s);
      if (!ev) {
        ADD_FAILURE() << "no event within 10 s";
        break;
      }
      tokens.insert(tokens.end(), ev->tokens.begin(), ev->tokens.end());
      if (ev->finish != FinishReason::kNone) {
        *last = std::move(*ev);
        break;
      }
    }
    return tokens;
  }
  // Waits until every page this engine published is in Redis.
  bool AwaitWrites() {
    for (int i = 0; i < 500; ++i) {
      const EngineStats s = engine->Stats();
      if (s.remote.written_pages > 0 && s.remote.queued_bytes == 0 &&
          s.remote.written_pages + s.remote.dropped_pages == s.remote.published_pages) {
        return true;
      }
      std::this_thread::sleep_for(10ms);
    }
    return false;
  }
  FakeRunner runner;
  std::unique_ptr<Engine> engine;
};

std::vector<int32_t> Reference(const FakeRunner& runner, std::vector<int32_t> tokens, int32_t n) {
  std::vector<int32_t> out;
  for (int i = 0; i < n; ++i) {
    out.push_back(runner.ReferenceNext(tokens));
    tokens.push_back(out.back());
  }
  return out;
}

TEST(EngineRemoteTest, AConversationMovesToAnotherReplicaWithItsHistory) {
  if (RedisServer::Binary().empty()) GTEST_SKIP() << "redis-server is not installed";
  RedisServer redis;
  ASSERT_TRUE(redis.Start());
  auto tokenizer = SmallTokenizer();
  Replica a(redis.url(), *tokenizer), b(redis.url(), *tokenizer);
  std::vector<int32_t> prompt;
  for (int i = 0; i < 30; ++i) prompt.push_back(3 + (i * 5) % 50);
  EngineEvent last;
  const std::vector<int32_t> reply = a.Run(prompt, 6, &last);
  EXPECT_EQ(reply, Reference(a.runner, prompt, 6));
  ASSERT_TRUE(a.AwaitWrites());
  // The next turn (history + reply + a new message) reaches b.
  std::vector<int32_t> next = prompt;
  next.insert(next.end(), reply.begin(), reply.end());
  for (int i = 0; i < 5; ++i) next.push_back(10 + i);
  const std::vector<int32_t> got = b.Run(next, 6, &last);
  EXPECT_EQ(got, Reference(b.runner, next, 6));
  EXPECT_GE(last.usage.cached_tokens, 28);  // the pages of turn 1 (its last page was partial)
  const EngineStats s = b.engine->Stats();
  EXPECT_GT(s.prefix.remote_imported_pages, 0);
  EXPECT_EQ(s.remote_waits, 1);
  EXPECT_EQ(s.remote_wait_timeouts, 0);

  // Redis gone: a conversation new to b still gets the right tokens, computed.
  redis.Kill();
  std::vector<int32_t> other;
  for (int i = 0; i < 30; ++i) other.push_back(3 + (i * 11) % 50);
  EXPECT_EQ(a.Run(other, 4, &last), Reference(a.runner, other, 4));
  std::vector<int32_t> other_next = other;
  for (int i = 0; i < 12; ++i) other_next.push_back(20 + i);
  EXPECT_EQ(b.Run(other_next, 4, &last), Reference(b.runner, other_next, 4));
  EXPECT_EQ(last.usage.cached_tokens, 0);
  EXPECT_GE(b.engine->Stats().remote.errors, 1);
}

}  // namespace
}  // namespace parley
