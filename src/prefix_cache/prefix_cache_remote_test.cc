// Two "replicas" (each its own KvCache and PrefixCache) sharing one real redis-server:
// what one caches, the other resumes from Redis with exactly the rows recomputing would
// write; a damaged page stops the resume there (never wrong rows). Skipped without
// redis-server.
#include <gtest/gtest.h>
#include <hiredis.h>

#include <cstring>

#include "prefix_cache/page_hash.h"
#include "prefix_cache/prefix_cache.h"
#include "prefix_cache/testing/redis_server.h"

namespace parley {
namespace {

using Clock = std::chrono::steady_clock;
constexpr int32_t kPs = 4;
constexpr int32_t kDim = 2;

// Row values that are a function of the whole token prefix (as prefix_cache_test.cc's).
float Expected(const std::vector<int32_t>& tokens, int32_t pos, int32_t layer, int32_t which) {
  uint64_t h = ChainPageKey(kPageKeySeed + layer * 7 + which, std::span<const int32_t>(tokens.data(), pos + 1));
  return static_cast<float>(h % 1000003) + 0.25f * which;
}

struct Replica {
  Replica(const KvLayout& layout, const std::string& url) {
    KvCacheOptions o;
    o.page_size = kPs;
    o.max_context = 64;
    o.max_chunk = 8;
    o.window_keep = 2 * kPs;
    o.arena_bytes = KvCache::ArenaBytesFor(layout, o, 4);
    kv = std::move(KvCache::Create(layout, o).value());
    cache = std::make_unique<PrefixCache>(kv.get(), PrefixCacheOptions{});
    RedisTierOptions r;
    r.url = url;
    r.timeout_ms = 500;
    remote = std::move(RedisTier::Open(r, /*fingerprint=*/99).value());
    cache->set_remote(remote.get());
  }
  ~Replica() { cache.reset(); }

  // Computes `tokens` from scratch and offers them to the cache, as a finished turn.
  void Serve(const std::vector<int32_t>& tokens) {
    SeqKv seq = kv->NewSeq();
    const int32_t n = static_cast<int32_t>(tokens.size());
    ASSERT_TRUE(kv->Reserve(&seq, 0, n));
    for (int32_t pos = 0; pos < n; ++pos) {
      for (int32_t layer = 0; layer < 2; ++layer) {
        float k[kDim] = {Expected(tokens, pos, layer, 0), 1.0f};
        float v[kDim] = {Expected(tokens, pos, layer, 1), 2.0f};
        std::memcpy(kv->k_row(seq, layer, pos), k, sizeof(k));
        std::memcpy(kv->v_row(seq, layer, pos), v, sizeof(v));
      }
    }
    kv->ReleaseOutsideWindow(&seq, n);
    const int32_t boundaries[] = {n};
    cache->Insert(tokens, n, seq, boundaries);
    kv->Free(&seq);
  }

  // Asks Redis for what the local tiers lack of `tokens` and imports the answer.
  int32_t Fetch(const std::vector<int32_t>& tokens, int64_t ticket) {
    std::vector<RemotePageId> ids = cache->RemotePlan(tokens, static_cast<int32_t>(tokens.size()) - 1, 0);
    if (ids.empty()) return 0;
    remote->Lookup(ticket, std::move(ids));
    const auto deadline = Clock::now() + std::chrono::seconds(5);
    while (Clock::now() < deadline) {
      for (RemoteLookupResult& r : remote->TakeResults()) {
        if (r.ticket == ticket) return cache->ImportRemote(tokens, r);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    ADD_FAILURE() << "no answer";
    return 0;
  }

  // Resumes `tokens`; checks every row the resume needs against recomputing; returns its length.
  int32_t Resume(const std::vector<int32_t>& tokens) {
    SeqKv seq = kv->NewSeq();
    const int32_t n = cache->Match(tokens, static_cast<int32_t>(tokens.size()) - 1, &seq);
    EXPECT_TRUE(kv->CanResumeAt(seq, n));
    for (int32_t layer = 0; layer < 2; ++layer) {
      const int32_t window = kv->layout().window(layer);
      for (int32_t pos = window == 0 ? 0 : std::max(0, n - window); pos < n; ++pos) {
        const float* k = reinterpret_cast<const float*>(kv->k_row(seq, layer, pos));
        const float* v = reinterpret_cast<const float*>(kv->v_row(seq, layer, pos));
        EXPECT_EQ(k[0], Expected(tokens, pos, layer, 0)) << "layer " << layer << " pos " << pos;
        EXPECT_EQ(v[0], Expected(tokens, pos, layer, 1)) << "layer " << layer << " pos " << pos;
      }
    }
    kv->Free(&seq);
    EXPECT_TRUE(cache->CheckIntegrity().ok()) << cache->CheckIntegrity().message();
    return n;
  }

  std::unique_ptr<KvCache> kv;
  std::unique_ptr<PrefixCache> cache;
  std::unique_ptr<RedisTier> remote;
};

std::vector<int32_t> Tokens(int32_t n, int32_t seed) {
  std::vector<int32_t> t(n);
  for (int32_t i = 0; i < n; ++i) t[i] = (i * 7 + seed) % 50;
  return t;
}

class PrefixCacheRemoteTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (RedisServer::Binary().empty()) GTEST_SKIP() << "redis-server is not installed";
    ASSERT_TRUE(redis_.Start());
  }
  RedisServer redis_;
};

TEST_F(PrefixCacheRemoteTest, AnotherReplicaResumesFromRedisWithTheSameRows) {
  const KvLayout hybrid = *KvLayout::Make({16, 0}, {}, kDim, kDim);  // layer 0: window 16; layer 1: global
  Replica a(hybrid, redis_.url()), b(hybrid, redis_.url());
  const std::vector<int32_t> turn1 = Tokens(40, 3);
  a.Serve(turn1);
  EXPECT_GT(a.cache->stats().remote_published_pages, 0);
  ASSERT_TRUE(a.remote->Flush(Clock::now() + std::chrono::seconds(5)));
  // The next turn lands on b: nothing local, everything of turn 1 from Redis.
  std::vector<int32_t> turn2 = turn1;
  for (int32_t t : Tokens(9, 11)) turn2.push_back(t);
  EXPECT_EQ(b.Resume(turn2), 0);
  EXPECT_GT(b.Fetch(turn2, 1), 0);
  EXPECT_EQ(b.Resume(turn2), 40);
  EXPECT_GT(b.remote->stats().hit_pages, 0);
  // Now local: nothing more to ask.
  EXPECT_TRUE(b.cache->RemotePlan(turn1, 40, 0).empty());
  // A different conversation finds nothing.
  EXPECT_EQ(b.Fetch(Tokens(20, 5), 2), 0);
}

TEST_F(PrefixCacheRemoteTest, ADamagedPageEndsTheResumeThere) {
  const KvLayout global = *KvLayout::Make({0, 0}, {}, kDim, kDim);
  Replica a(global, redis_.url()), b(global, redis_.url());
  const std::vector<int32_t> tokens = Tokens(40, 1);
  a.Serve(tokens);
  ASSERT_TRUE(a.remote->Flush(Clock::now() + std::chrono::seconds(5)));
  // Flip one byte of page 5's stored value (group 0).
  const std::vector<uint64_t> keys = PageKeys(tokens, kPs, 10);
  const std::string name = RemoteKeyName(a.remote->fingerprint(), keys[5], 0);
  redisContext* c = redis_.Connect();
  ASSERT_NE(c, nullptr);
  auto* got = static_cast<redisReply*>(redisCommand(c, "GET %s", name.c_str()));
  ASSERT_EQ(got->type, REDIS_REPLY_STRING);
  std::string value(got->str, got->len);
  freeReplyObject(got);
  value[value.size() / 2] ^= 0x10;
  freeReplyObject(redisCommand(c, "SET %s %b", name.c_str(), value.data(), value.size()));
  redisFree(c);
  std::vector<int32_t> next = tokens;
  next.push_back(7);
  b.Fetch(next, 1);
  EXPECT_EQ(b.Resume(next), 5 * kPs);  // pages 0-4; 5 was damaged, so 6-9 cannot follow
  EXPECT_EQ(b.remote->stats().bad_pages, 1);
}

}  // namespace
}  // namespace parley
