#include "prefix_cache/redis_tier.h"

#include <hiredis.h>

#include <algorithm>
#include <cstdlib>

#include "base/check.h"

namespace parley {
namespace {

using Clock = std::chrono::steady_clock;

constexpr size_t kWriteBatch = 64;  // SETs per pipelined round trip
constexpr std::chrono::milliseconds kMinBackoff{50};
constexpr std::chrono::milliseconds kMaxBackoff{2000};

timeval ToTimeval(int32_t ms) { return timeval{ms / 1000, (ms % 1000) * 1000}; }

}  // namespace

Status ParseRedisUrl(const std::string& url, std::string* host, int* port, int* db) {
  const std::string scheme = "redis://";
  if (url.rfind(scheme, 0) != 0) {
    return Status::InvalidArgument("--redis-url must look like redis://HOST:PORT[/DB], got \"" + url + "\"");
  }
  std::string rest = url.substr(scheme.size());
  *db = 0;
  if (const size_t slash = rest.find('/'); slash != std::string::npos) {
    const std::string d = rest.substr(slash + 1);
    rest = rest.substr(0, slash);
    if (!d.empty()) {
      char* end = nullptr;
      const long v = std::strtol(d.c_str(), &end, 10);
      if (*end != '\0' || v < 0 || v > 1000) return Status::InvalidArgument("--redis-url: bad database \"" + d + "\"");
      *db = static_cast<int>(v);
    }
  }
  *port = 6379;
  if (const size_t colon = rest.rfind(':'); colon != std::string::npos) {
    const std::string p = rest.substr(colon + 1);
    rest = rest.substr(0, colon);
    char* end = nullptr;
    const long v = std::strtol(p.c_str(), &end, 10);
    if (p.empty() || *end != '\0' || v < 1 || v > 65535) {
      return Status::InvalidArgument("--redis-url: bad port \"" + p + "\"");
    }
    *port = static_cast<int>(v);
  }
  if (rest.empty()) return Status::InvalidArgument("--redis-url: no host in \"" + url + "\"");
  *host = rest;
  return Status::Ok();
}

StatusOr<std::unique_ptr<RedisTier>> RedisTier::Open(const RedisTierOptions& options, uint64_t fingerprint,
                                                      std::function<void()> on_result) {
  std::string host;
  int port = 0, db = 0;
  PARLEY_RETURN_IF_ERROR(ParseRedisUrl(options.url, &host, &port, &db));
  if (options.timeout_ms < 1) return Status::InvalidArgument("the Redis timeout must be >= 1 ms");
  if (options.ttl_s < 0) return Status::InvalidArgument("--redis-ttl must be >= 0");
  std::unique_ptr<RedisTier> tier(new RedisTier(options, fingerprint, std::move(on_result)));
  tier->host_ = host;
  tier->port_ = port;
  tier->db_ = db;
  tier->thread_ = std::thread([t = tier.get()] { t->Run(); });
  return tier;
}

RedisTier::RedisTier(const RedisTierOptions& options, uint64_t fingerprint, std::function<void()> on_result)
    : options_(options), fingerprint_(fingerprint), on_result_(std::move(on_result)) {}

RedisTier::~RedisTier() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  done_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (ctx_ != nullptr) redisFree(ctx_);
}

bool RedisTier::Publish(RemotePage page, Clock::time_point wait_until) {
  const int64_t bytes = static_cast<int64_t>(page.payload.size());
  std::unique_lock<std::mutex> lock(mu_);
  while (queued_bytes_ + bytes > options_.max_queue_bytes && queued_bytes_ > 0 && !stop_ &&
         Clock::now() < wait_until) {
    done_cv_.wait_until(lock, wait_until);
  }
  if (stop_ || (queued_bytes_ + bytes > options_.max_queue_bytes && queued_bytes_ > 0)) {
    ++stats_.dropped_pages;
    return false;
  }
  queued_bytes_ += bytes;
  ++stats_.published_pages;
  writes_.push_back(std::move(page));
  lock.unlock();
  cv_.notify_one();
  return true;
}

void RedisTier::Lookup(int64_t ticket, std::vector<RemotePageId> ids) {
  PendingLookup p;
  p.result.ticket = ticket;
  p.result.ids = std::move(ids);
  p.asked = Clock::now();
  {
    std::lock_guard<std::mutex> lock(mu_);
    lookups_.push_back(std::move(p));
  }
  cv_.notify_one();
}

std::vector<RemoteLookupResult> RedisTier::TakeResults() {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<RemoteLookupResult> out;
  out.swap(results_);
  return out;
}

bool RedisTier::Flush(Clock::time_point deadline) {
  std::unique_lock<std::mutex> lock(mu_);
  while ((!writes_.empty() || writing_) && !stop_) {
    if (done_cv_.wait_until(lock, deadline) == std::cv_status::timeout) break;
  }
  return writes_.empty() && !writing_;
}

RedisTierStats RedisTier::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  RedisTierStats s = stats_;
  s.queued_bytes = queued_bytes_;
  return s;
}

void RedisTier::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    cv_.wait(lock, [this] { return stop_ || !lookups_.empty() || !writes_.empty(); });
    if (stop_) return;
    if (!lookups_.empty()) {
      PendingLookup p = std::move(lookups_.front());
      lookups_.pop_front();
      lock.unlock();
      DoLookup(&p.result);
      p.result.seconds = std::chrono::duration<double>(Clock::now() - p.asked).count();
      lock.lock();
      results_.push_back(std::move(p.result));
      lock.unlock();
      if (on_result_) on_result_();
      lock.lock();
      continue;
    }
    std::vector<RemotePage> batch;
    while (!writes_.empty() && batch.size() < kWriteBatch) {
      batch.push_back(std::move(writes_.front()));
      writes_.pop_front();
    }
    writing_ = true;
    lock.unlock();
    int64_t bytes = 0;
    for (const RemotePage& p : batch) bytes += static_cast<int64_t>(p.payload.size());
    DoWrites(&batch);
    lock.lock();
    queued_bytes_ -= bytes;
    writing_ = false;
    done_cv_.notify_all();
  }
}

bool RedisTier::EnsureConnected() {
  if (ctx_ != nullptr) return true;
  if (Clock::now() < next_attempt_) return false;
  const timeval tv = ToTimeval(options_.timeout_ms);
  redisContext* c = redisConnectWithTimeout(host_.c_str(), port_, tv);
  bool ok = c != nullptr && c->err == 0 && redisSetTimeout(c, tv) == REDIS_OK;
  if (ok && db_ != 0) {
    auto* r = static_cast<redisReply*>(redisCommand(c, "SELECT %d", db_));
    ok = r != nullptr && r->type != REDIS_REPLY_ERROR;
    if (r != nullptr) freeReplyObject(r);
  }
  if (!ok) {
    if (c != nullptr) redisFree(c);
    std::lock_guard<std::mutex> lock(mu_);
    ++stats_.errors;
    stats_.connected = false;
    next_attempt_ = Clock::now() + backoff_;
    backoff_ = std::min(backoff_ * 2, kMaxBackoff);
    return false;
  }
  ctx_ = c;
  backoff_ = kMinBackoff;
  std::lock_guard<std::mutex> lock(mu_);
  ++stats_.connects;
  stats_.connected = true;
  return true;
}

void RedisTier::Disconnect() {
  if (ctx_ != nullptr) redisFree(ctx_);
  ctx_ = nullptr;
  next_attempt_ = Clock::now() + backoff_;
  backoff_ = std::min(backoff_ * 2, kMaxBackoff);
  std::lock_guard<std::mutex> lock(mu_);
  ++stats_.errors;
  stats_.connected = false;
}

void RedisTier::DoLookup(RemoteLookupResult* r) {
  const size_t n = r->ids.size();
  r->hit.assign(n, false);
  r->codecs.assign(n, HostCodec::kRaw);
  r->payloads.assign(n, {});
  if (n == 0) return;
  redisReply* reply = nullptr;
  if (EnsureConnected()) {
    std::vector<std::string> keys;
    keys.reserve(n + 1);
    keys.push_back("MGET");
    for (const RemotePageId& id : r->ids) keys.push_back(RemoteKeyName(fingerprint_, id.key, id.group));
    std::vector<const char*> argv;
    std::vector<size_t> lens;
    for (const std::string& k : keys) {
      argv.push_back(k.data());
      lens.push_back(k.size());
    }
    reply = static_cast<redisReply*>(redisCommandArgv(ctx_, static_cast<int>(argv.size()), argv.data(), lens.data()));
    if (reply == nullptr || reply->type != REDIS_REPLY_ARRAY || reply->elements != n) {
      if (reply != nullptr) freeReplyObject(reply);
      reply = nullptr;
      Disconnect();  // a timeout or a broken connection: the context is unusable
    }
  }
  int64_t hits = 0, misses = 0, bad = 0, bytes = 0;
  if (reply == nullptr) {
    r->failed = true;
    misses = static_cast<int64_t>(n);
  } else {
    for (size_t i = 0; i < n; ++i) {
      const redisReply* e = reply->element[i];
      if (e->type != REDIS_REPLY_STRING) {
        ++misses;
        continue;
      }
      std::span<const uint8_t> value(reinterpret_cast<const uint8_t*>(e->str), e->len);
      std::span<const uint8_t> payload;
      HostCodec codec;
      if (DecodeRemotePage(value, fingerprint_, r->ids[i], &codec, &payload) != RemoteDecode::kOk) {
        ++bad;
        continue;
      }
      r->hit[i] = true;
      r->codecs[i] = codec;
      r->payloads[i].assign(payload.begin(), payload.end());
      ++hits;
      bytes += static_cast<int64_t>(e->len);
    }
    freeReplyObject(reply);
  }
  std::lock_guard<std::mutex> lock(mu_);
  ++stats_.lookups;
  stats_.lookup_pages += static_cast<int64_t>(n);
  stats_.hit_pages += hits;
  stats_.miss_pages += misses;
  stats_.bad_pages += bad;
  stats_.read_bytes += bytes;
}

void RedisTier::DoWrites(std::vector<RemotePage>* batch) {
  if (!EnsureConnected()) {
    std::lock_guard<std::mutex> lock(mu_);
    stats_.dropped_pages += static_cast<int64_t>(batch->size());
    return;
  }
  const std::string ttl = std::to_string(options_.ttl_s);
  size_t appended = 0;
  std::vector<int64_t> sizes;
  for (const RemotePage& p : *batch) {
    const std::string key = RemoteKeyName(fingerprint_, p.id.key, p.id.group);
    const std::vector<uint8_t> value = EncodeRemotePage(fingerprint_, p.id, p.codec, p.payload);
    const char* argv[5] = {"SET", key.data(), reinterpret_cast<const char*>(value.data()), "EX", ttl.data()};
    const size_t lens[5] = {3, key.size(), value.size(), 2, ttl.size()};
    if (redisAppendCommandArgv(ctx_, options_.ttl_s > 0 ? 5 : 3, argv, lens) != REDIS_OK) break;
    sizes.push_back(static_cast<int64_t>(value.size()));
    ++appended;
  }
  int64_t written = 0, bytes = 0;
  bool failed = appended < batch->size();
  for (size_t i = 0; i < appended; ++i) {
    void* raw = nullptr;
    if (redisGetReply(ctx_, &raw) != REDIS_OK || raw == nullptr) {
      failed = true;
      break;
    }
    auto* reply = static_cast<redisReply*>(raw);
    if (reply->type != REDIS_REPLY_ERROR) {
      ++written;
      bytes += sizes[i];
    }
    freeReplyObject(reply);
  }
  if (failed) Disconnect();  // replies still owed would be read as the next command's
  std::lock_guard<std::mutex> lock(mu_);
  stats_.written_pages += written;
  stats_.written_bytes += bytes;
  stats_.dropped_pages += static_cast<int64_t>(batch->size()) - written;
}

}  // namespace parley
