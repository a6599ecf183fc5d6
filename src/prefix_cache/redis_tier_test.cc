// RedisTier against a real redis-server on a free loopback port (skipped without one):
// pages round-trip, damaged and foreign values are misses, Redis killed and restarted mid-run
// costs misses and counted errors (never a hang), a stalled Redis never blocks the caller.
#include "prefix_cache/redis_tier.h"

#include <gtest/gtest.h>
#include <hiredis.h>

#include <chrono>

#include "prefix_cache/testing/redis_server.h"

namespace parley {
namespace {

using Clock = std::chrono::steady_clock;

RemotePageId Id(uint64_t key, int32_t group = 0) { return RemotePageId{key, key - 1, group, {1, 2, 3, int32_t(key)}}; }

RemotePage Page(uint64_t key, size_t bytes = 1000) {
  RemotePage p;
  p.id = Id(key);
  p.payload.resize(bytes);
  for (size_t i = 0; i < bytes; ++i) p.payload[i] = static_cast<uint8_t>(key * 31 + i);
  return p;
}

// Waits (at most 5 s) for the answer to `ticket`.
RemoteLookupResult Await(RedisTier* tier, int64_t ticket) {
  const auto deadline = Clock::now() + std::chrono::seconds(5);
  while (Clock::now() < deadline) {
    for (RemoteLookupResult& r : tier->TakeResults()) {
      if (r.ticket == ticket) return std::move(r);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ADD_FAILURE() << "no answer for lookup " << ticket;
  return {};
}

std::unique_ptr<RedisTier> OpenTier(const std::string& url, uint64_t fingerprint = 7, int32_t timeout_ms = 200,
                                    int64_t queue_bytes = 64 << 20) {
  RedisTierOptions o;
  o.url = url;
  o.timeout_ms = timeout_ms;
  o.max_queue_bytes = queue_bytes;
  return std::move(RedisTier::Open(o, fingerprint).value());
}

class RedisTierTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (RedisServer::Binary().empty()) GTEST_SKIP() << "redis-server is not installed";
    ASSERT_TRUE(redis_.Start());
  }
  RedisServer redis_;
};

TEST(RedisUrlTest, ParsesAndRefuses) {
  std::string host;
  int port = 0, db = 0;
  ASSERT_TRUE(ParseRedisUrl("redis://127.0.0.1:7000/3", &host, &port, &db).ok());
  EXPECT_EQ(host, "127.0.0.1");
  EXPECT_EQ(port, 7000);
  EXPECT_EQ(db, 3);
  ASSERT_TRUE(ParseRedisUrl("redis://cache", &host, &port, &db).ok());
  EXPECT_EQ(port, 6379);
  EXPECT_EQ(db, 0);
  EXPECT_FALSE(ParseRedisUrl("http://x:1", &host, &port, &db).ok());
  EXPECT_FALSE(ParseRedisUrl("redis://x:0", &host, &port, &db).ok());
  EXPECT_FALSE(ParseRedisUrl("redis://:80", &host, &port, &db).ok());
  EXPECT_FALSE(ParseRedisUrl("redis://x:80/a", &host, &port, &db).ok());
}

TEST_F(RedisTierTest, PublishedPagesComeBackAndOthersMiss) {
  auto tier = OpenTier(redis_.url());
  for (uint64_t k = 1; k <= 5; ++k) ASSERT_TRUE(tier->Publish(Page(k)));
  ASSERT_TRUE(tier->Flush(Clock::now() + std::chrono::seconds(5)));
  tier->Lookup(1, {Id(1), Id(3), Id(9), Id(5), Id(5, /*group=*/1)});
  const RemoteLookupResult r = Await(tier.get(), 1);
  EXPECT_FALSE(r.failed);
  EXPECT_EQ(r.hit, (std::vector<bool>{true, true, false, true, false}));
  EXPECT_EQ(r.payloads[1], Page(3).payload);
  EXPECT_EQ(r.payloads[2].size(), 0u);
  const RedisTierStats s = tier->stats();
  EXPECT_EQ(s.written_pages, 5);
  EXPECT_EQ(s.hit_pages, 3);
  EXPECT_EQ(s.miss_pages, 2);
  EXPECT_EQ(s.bad_pages, 0);
  EXPECT_TRUE(s.connected);
  // Another model or configuration (another fingerprint) never sees them.
  auto other = OpenTier(redis_.url(), /*fingerprint=*/8);
  other->Lookup(2, {Id(1), Id(3)});
  EXPECT_EQ(Await(other.get(), 2).hit, (std::vector<bool>{false, false}));
}

TEST_F(RedisTierTest, DamagedOrMisplacedValuesAreMisses) {
  auto tier = OpenTier(redis_.url());
  ASSERT_TRUE(tier->Publish(Page(1)));
  ASSERT_TRUE(tier->Publish(Page(2)));
  ASSERT_TRUE(tier->Flush(Clock::now() + std::chrono::seconds(5)));
  redisContext* c = redis_.Connect();
  ASSERT_NE(c, nullptr);
  // Page 1's value: one byte flipped in its payload. Page 2's key: page 1's (good) value.
  const std::string k1 = RemoteKeyName(7, 1, 0), k2 = RemoteKeyName(7, 2, 0);
  auto* got = static_cast<redisReply*>(redisCommand(c, "GET %s", k1.c_str()));
  ASSERT_EQ(got->type, REDIS_REPLY_STRING);
  std::string value(got->str, got->len);
  freeReplyObject(got);
  freeReplyObject(redisCommand(c, "SET %s %b", k2.c_str(), value.data(), value.size()));
  value[value.size() - 10] ^= 1;
  freeReplyObject(redisCommand(c, "SET %s %b", k1.c_str(), value.data(), value.size()));
  redisFree(c);
  tier->Lookup(3, {Id(1), Id(2)});
  const RemoteLookupResult r = Await(tier.get(), 3);
  EXPECT_EQ(r.hit, (std::vector<bool>{false, false}));
  EXPECT_EQ(tier->stats().bad_pages, 2);
}

TEST_F(RedisTierTest, RedisKilledMidRunCostsMissesThenRecovers) {
  auto tier = OpenTier(redis_.url(), 7, /*timeout_ms=*/200);
  ASSERT_TRUE(tier->Publish(Page(1)));
  ASSERT_TRUE(tier->Flush(Clock::now() + std::chrono::seconds(5)));
  const int port = redis_.port();
  redis_.Kill();
  // Down: lookups answer (as misses) within about the timeout, writes are dropped and counted.
  const auto t0 = Clock::now();
  tier->Lookup(4, {Id(1)});
  const RemoteLookupResult down = Await(tier.get(), 4);
  EXPECT_LT(Clock::now() - t0, std::chrono::seconds(2));
  EXPECT_TRUE(down.failed);
  EXPECT_EQ(down.hit, std::vector<bool>{false});
  ASSERT_TRUE(tier->Publish(Page(2)));
  tier->Flush(Clock::now() + std::chrono::seconds(5));
  RedisTierStats s = tier->stats();
  EXPECT_GE(s.errors, 1);
  EXPECT_GE(s.dropped_pages, 1);
  EXPECT_FALSE(s.connected);
  // Back (empty: no persistence): the tier reconnects by itself (backoff at most 2 s).
  ASSERT_TRUE(redis_.Start(port));
  bool hit = false;
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  for (int64_t ticket = 10; !hit && Clock::now() < deadline; ++ticket) {
    tier->Publish(Page(3));
    tier->Flush(Clock::now() + std::chrono::seconds(2));
    tier->Lookup(ticket, {Id(3)});
    hit = Await(tier.get(), ticket).hit[0];
    if (!hit) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(hit);
  s = tier->stats();
  EXPECT_TRUE(s.connected);
  EXPECT_GE(s.connects, 2);
}

// A "Redis" that accepts connections and never answers: every command times out.
class Stalled {
 public:
  Stalled() {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(a);
    bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a));
    listen(fd_, 16);  // the kernel completes connections; nobody reads
    getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
  }
  ~Stalled() { close(fd_); }
  std::string url() const { return "redis://127.0.0.1:" + std::to_string(port_); }

 private:
  int fd_;
  int port_;
};

TEST(RedisTierStalledTest, ASlowRedisNeverBlocksTheCallerAndTheQueueIsBounded) {
  Stalled stalled;
  auto tier = OpenTier(stalled.url(), 7, /*timeout_ms=*/300, /*queue_bytes=*/3000);
  const auto t0 = Clock::now();
  int accepted = 0;
  for (uint64_t k = 1; k <= 10; ++k) accepted += tier->Publish(Page(k)) ? 1 : 0;
  tier->Lookup(1, {Id(1)});
  EXPECT_LT(Clock::now() - t0, std::chrono::milliseconds(100));  // no call waited on Redis
  EXPECT_LT(accepted, 10);
  const RemoteLookupResult r = Await(tier.get(), 1);
  EXPECT_TRUE(r.failed);
  EXPECT_EQ(r.hit, std::vector<bool>{false});
  tier->Flush(Clock::now() + std::chrono::seconds(5));
  const RedisTierStats s = tier->stats();
  EXPECT_EQ(s.published_pages, accepted);
  EXPECT_EQ(s.written_pages, 0);
  EXPECT_EQ(s.dropped_pages, 10);  // refused by the full queue, or failed with the timeout
  EXPECT_GE(s.errors, 1);
}

}  // namespace
}  // namespace parley
