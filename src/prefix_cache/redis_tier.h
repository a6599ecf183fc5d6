// RedisTier: the prefix cache's shared tier, below the host and disk tiers, on a Redis server
// that every replica of a fleet reaches (docs/fleet.md). Pages are named and checked as
// remote_page.h says, so only replicas of the same model and configuration share them.
//
// The engine thread never waits on Redis. One background worker owns the only connection
// (hiredis, synchronous, with connect and command timeouts) and serves two queues:
// - lookups (Lookup): the page keys a waiting request could resume; answered with one MGET,
//   each value checked (a damaged, foreign or missing value is a miss), the answer handed
//   back through TakeResults() and the `on_result` callback. Lookups go before writes.
// - writes (Publish): pages after a turn ends, write-behind, pipelined SETs (with EX when a
//   TTL is set). The queue is bounded in bytes; a page that does not fit is dropped and
//   counted.
// When Redis is down or slow, a command fails after the timeout: the connection is dropped,
// pending work is answered as misses (lookups) or dropped (writes), every failure is
// counted, and the worker reconnects with exponential backoff (50 ms doubling to 2 s).
// Thread-safe: any method from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "base/status.h"
#include "prefix_cache/remote_page.h"

struct redisContext;

namespace parley {

struct RedisTierOptions {
  std::string url;               // redis://HOST:PORT[/DB]; "" = no shared tier
  int64_t ttl_s = 0;             // each page expires this long after it is written (0: never; LRU decides)
  int32_t timeout_ms = 100;      // connect and command timeout
  int64_t max_queue_bytes = int64_t{64} << 20;  // write-behind queue bound
};

struct RedisTierStats {
  int64_t lookups = 0;          // MGETs asked for (answered from Redis or failed)
  int64_t lookup_pages = 0;     // keys asked for
  int64_t hit_pages = 0;        // values that passed every check
  int64_t miss_pages = 0;       // keys with no value (or asked while Redis was unreachable)
  int64_t bad_pages = 0;        // values that failed a check (length, checksum, fingerprint, key, tokens)
  int64_t read_bytes = 0;       // of hit values
  int64_t published_pages = 0;  // pages queued for writing
  int64_t written_pages = 0;    // SETs Redis acknowledged
  int64_t written_bytes = 0;
  int64_t dropped_pages = 0;    // not written: the queue was full, or Redis failed
  int64_t errors = 0;           // connections or commands that failed (refused, timed out, error replies)
  int64_t connects = 0;         // connections made (the first one and each reconnect)
  bool connected = false;
  int64_t queued_bytes = 0;     // in the write queue now
};

// One page to publish: its name and the codec payload (page_codec.h).
struct RemotePage {
  RemotePageId id;
  HostCodec codec = HostCodec::kRaw;
  std::vector<uint8_t> payload;
};

// The answer to one Lookup: for each id asked, in order, whether a good value came back and
// its payload.
struct RemoteLookupResult {
  int64_t ticket = 0;
  std::vector<RemotePageId> ids;
  std::vector<bool> hit;
  std::vector<HostCodec> codecs;
  std::vector<std::vector<uint8_t>> payloads;
  bool failed = false;  // Redis unreachable or the command failed: every page a miss
  double seconds = 0;   // from Lookup() to the answer
};

class RedisTier {
 public:
  // Parses the URL and starts the worker (which connects in the background: a Redis that is
  // down now is not an error). `fingerprint` names the model and configuration.
  // `on_result` (may be empty) runs on the worker after each lookup answer.
  static StatusOr<std::unique_ptr<RedisTier>> Open(const RedisTierOptions& options, uint64_t fingerprint,
                                                    std::function<void()> on_result = nullptr);
  ~RedisTier();  // stops the worker; pending writes are dropped (Flush first to keep them)
  RedisTier(const RedisTier&) = delete;
  RedisTier& operator=(const RedisTier&) = delete;

  // Queues a page for writing; false (dropped, counted) when the queue is full. With
  // `wait_until`, waits for room until then instead.
  bool Publish(RemotePage page,
               std::chrono::steady_clock::time_point wait_until = std::chrono::steady_clock::time_point::min());
  // Asks for these pages; the answer comes back from TakeResults() under `ticket`.
  void Lookup(int64_t ticket, std::vector<RemotePageId> ids);
  std::vector<RemoteLookupResult> TakeResults();
  // Waits until every queued write is done (or dropped), or the deadline; true if done.
  bool Flush(std::chrono::steady_clock::time_point deadline);

  RedisTierStats stats() const;
  uint64_t fingerprint() const { return fingerprint_; }
  const RedisTierOptions& options() const { return options_; }

 private:
  RedisTier(const RedisTierOptions& options, uint64_t fingerprint, std::function<void()> on_result);
  void Run();
  // Connects if there is no connection and the backoff allows; false without one.
  bool EnsureConnected();
  void Disconnect();  // after a failure: counts it and schedules the next attempt
  void DoLookup(RemoteLookupResult* r);
  void DoWrites(std::vector<RemotePage>* batch);

  const RedisTierOptions options_;
  const uint64_t fingerprint_;
  const std::function<void()> on_result_;
  std::string host_;
  int port_ = 6379;
  int db_ = 0;

  // Worker only.
  redisContext* ctx_ = nullptr;
  std::chrono::steady_clock::time_point next_attempt_{};
  std::chrono::milliseconds backoff_{50};

  mutable std::mutex mu_;
  std::condition_variable cv_;       // work for the worker
  std::condition_variable done_cv_;  // a write batch finished, or room in the queue
  bool stop_ = false;
  struct PendingLookup {
    RemoteLookupResult result;
    std::chrono::steady_clock::time_point asked;
  };
  std::deque<PendingLookup> lookups_;
  std::deque<RemotePage> writes_;
  int64_t queued_bytes_ = 0;
  bool writing_ = false;  // a batch is out of the queue, not yet done
  std::vector<RemoteLookupResult> results_;
  RedisTierStats stats_;
  std::thread thread_;
};

// "redis://HOST:PORT[/DB]" (PORT default 6379, DB default 0).
Status ParseRedisUrl(const std::string& url, std::string* host, int* port, int* db);

}  // namespace parley
