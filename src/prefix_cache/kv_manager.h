// KvManager: one owner-facing door to the KV pages of running sequences (KvCache) and to
// the prefix cache behind them. The prefix cache is always there for callers: without one
// the manager acts as a cache that never matches and never stores, so callers need no null
// checks. Admission resumes the cached prefix and reserves pages in one call that either
// commits (and counts the lookup) or leaves nothing changed; reservations evict what only
// the cache holds before reporting "no room" (then preemption is the caller's only way out).
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "base/status.h"
#include "kv/kv_cache.h"
#include "prefix_cache/prefix_cache.h"

namespace parley {

// One sequence's KV pages, as the manager hands them out: the block tables inside are read
// and changed only by KvManager (its Table() lends them, read-only, to the forward pass).
// Move-only, since two owners of the same pages would free them twice.
class KvHandle {
 public:
  KvHandle() = default;
  KvHandle(KvHandle&&) = default;
  KvHandle& operator=(KvHandle&&) = default;
  KvHandle(const KvHandle&) = delete;
  KvHandle& operator=(const KvHandle&) = delete;

  // Holds at least one page.
  bool holds_pages() const;

 private:
  friend class KvManager;
  SeqKv table_;
};

class KvManager {
 public:
  // `prefix` may be null (a disabled cache). Neither is owned.
  KvManager(KvCache* kv, PrefixCache* prefix);

  KvCache& kv() { return *kv_; }
  const KvCache& kv() const { return *kv_; }
  bool caching() const { return prefix_ != nullptr; }
  // The block tables behind a handle, for the forward pass and for checks.
  const SeqKv& Table(const KvHandle& h) const { return h.table_; }

  // Tokens of `tokens` (at most max_tokens) an admission would resume; no side effects.
  int32_t ComputedPrefix(std::span<const int32_t> tokens, int32_t max_tokens) const;

  struct Admission {
    int32_t computed = 0;     // tokens resumed (or already computed)
    int32_t num_new = 0;      // tokens reserved past them
    int32_t host_tokens = 0;  // resumed from the host tier
    int32_t disk_tokens = 0;  // ... from the disk tier
  };
  struct AdmitRequest {
    std::span<const int32_t> tokens;
    int32_t computed = 0;          // > 0: already computed, no lookup
    std::function<int32_t(int32_t computed)> chunk;  // tokens to compute from `computed`
    int32_t watermark = 0;         // pages per group kept free beyond the chunk
    bool wait_for_restore = false; // a prefix that lacked room to restore: refuse, don't recompute
  };
  // Resumes the cached prefix of req.tokens into *seq and reserves the chunk. True: committed
  // (the lookup counted). False: *seq holds no pages and nothing else changed.
  bool Admit(const AdmitRequest& req, KvHandle* seq, Admission* out);

  // Pages for positions [computed, total), evicting what only the cache holds first.
  // False: no room short of preemption.
  bool Reserve(KvHandle* seq, int32_t computed, int32_t total);
  // Offers the computed pages to the cache (the prompt and the whole computed text as
  // boundaries) when cache_pages, then frees them.
  void Free(KvHandle* seq, std::span<const int32_t> tokens, int32_t computed, int32_t num_prompt, bool cache_pages);
  // Caches without freeing.
  void Offer(const KvHandle& seq, std::span<const int32_t> tokens, int32_t computed, int32_t num_prompt);
  // A copy of `from` up to `computed` (shared pages), evicting one page per group if needed.
  bool Fork(const KvHandle& from, int32_t computed, KvHandle* to);
  // Drops window pages no longer needed after `computed` tokens.
  void Release(KvHandle* seq, int32_t computed);
  // Drops the pages holding only positions >= n (a rewind: drafted tokens that were rejected).
  void Truncate(KvHandle* seq, int32_t n);
  // The pages before `computed` are all there (window groups: those still in the window).
  bool CanResumeAt(const KvHandle& seq, int32_t computed) const;

  // The pool holds exactly the pages of `handles` and of the cache.
  Status CheckIntegrity(const std::vector<const KvHandle*>& handles) const;

 private:
  // Pages per group still needed to cover [computed, total) plus `watermark`.
  std::vector<int32_t> Needs(const SeqKv& seq, int32_t computed, int32_t total, int32_t watermark) const;
  bool Fits(const SeqKv& seq, int32_t computed, int32_t total, int32_t watermark) const;
  // A handle with one empty table per group (its first use).
  void Init(KvHandle* h) const;

  KvCache* kv_;
  PrefixCache* prefix_;
};

}  // namespace parley
