// PrefixCache: the attention-state cache between turns (DESIGN.md §4). After a sequence
// ends (or is preempted), the K/V pages of its full token pages stay cached in a tree keyed
// by chained page hashes (page_hash.h); a later request whose tokens start with the same
// pages resumes after them and computes only the rest.
//
// - The tree: one node per cached page of tokens; its key names the whole prefix up to the
//   page's end, and its tokens and parent guard against hash collisions. For each KV group a
//   node knows where the page's K/V are: in a pool page (the cache holds one reference), in
//   the host tier, or nowhere (window groups drop pages outside every useful window).
// - Hybrid resume rule: a prefix of d pages can be resumed iff every global group has all
//   pages [0, d) and every window group has the pages overlapping the last W positions
//   before d * page_size (resident or in the host tier), as KvCache::CanResumeAt requires.
// - Pinning is the pools' reference counts: a page some sequence uses has count > 1 and is
//   never evicted. Eviction (MakeRoom) first drops window pages no turn-boundary resume
//   needs, then takes least recently used nodes with no resident descendants, spilling their
//   pages to the host tier when one is configured; the host tier drops its least recently
//   used leaves when full, or, with a disk tier, moves its least recently used pages there
//   (which drops its own least recently used leaves when full). Only the latest turn boundaries of a conversation keep their
//   window pages; older ones are superseded when a later turn of it is inserted.
// - Eviction order: the candidates of each eviction step (a group's resident pages without
//   resident descendants, its window pages no boundary keeps, host-tier pages, host- or
//   disk-only leaves) sit in ordered sets keyed by (last use, deeper first), updated when a
//   node changes; an eviction walks a set from its oldest end, skipping only pinned pages,
//   and never scans the tree.
// Owned by the engine thread (or one test); not thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <set>
#include <span>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "base/status.h"
#include "kv/kv_cache.h"
#include "prefix_cache/disk_tier.h"
#include "prefix_cache/host_tier.h"
#include "prefix_cache/redis_tier.h"
#include "prefix_cache/recent_keys.h"

namespace parley {

struct PrefixCacheOptions {
  int64_t host_bytes = 0;  // host tier budget; 0: evicted pages are dropped
  HostCodec host_codec = HostCodec::kRaw;  // also how the disk tier stores pages
  std::string disk_dir;    // disk tier under this directory ("": none); made by Engine::Create
  int64_t disk_bytes = 0;  // its budget
};

struct PrefixCacheStats {
  int64_t lookups = 0;
  int64_t hits = 0;              // lookups that resumed at least one page
  int64_t hit_tokens_pool = 0;   // resumed tokens whose pages were all resident
  int64_t hit_tokens_host = 0;   // resumed tokens with a page restored from the host tier
  int64_t hit_tokens_disk = 0;   // ... from the disk tier
  int64_t miss_new = 0;          // lookups with nothing cached for their first page
  int64_t miss_evicted = 0;      // ... whose first page was cached once, then evicted
  int64_t miss_window = 0;       // pages matched, but no prefix was resumable (window or global pages gone)
  int64_t inserted_pages = 0;    // nodes created
  int64_t evicted_pages = 0;     // pool pages the cache gave up (spilled or dropped)
  int64_t spilled_pages = 0;     // of those, copied to the host tier
  int64_t restored_pages = 0;    // copied back from the host tier into the pool
  int64_t host_dropped_pages = 0;
  int64_t disk_written_pages = 0;   // moved from the host tier (or spilled) to the disk tier
  int64_t disk_restored_pages = 0;  // of restored_pages, read from the disk tier
  int64_t disk_dropped_pages = 0;
  int64_t disk_read_errors = 0;     // disk pages missing or damaged when read (a miss, not an error)
  int64_t remote_published_pages = 0;  // pages handed to the shared (Redis) tier's write queue
  int64_t remote_unpublished_pages = 0;  // ... refused: its queue was full
  int64_t remote_imported_pages = 0;   // pages copied from the shared tier into the pool
  int64_t remote_undecodable_pages = 0;  // shared-tier values that passed their checks but did not decode
};

class PrefixCache {
 public:
  // REQUIRES: `kv` outlives the cache; the cache is destroyed (or Clear()ed) before it.
  // `disk`: an optional third tier below the host tier (or, with no host tier, the only one).
  PrefixCache(KvCache* kv, const PrefixCacheOptions& options, std::unique_ptr<DiskTier> disk = nullptr);
  ~PrefixCache();

  // Finds the longest resumable cached prefix of `tokens` of at most `max_tokens` tokens
  // (whole pages), puts its pages into `seq` with one reference each (restoring pages from
  // the host tier), and returns its length in tokens (0: nothing usable). REQUIRES: `seq`
  // holds no pages. When the pool cannot take every page to restore, the longest prefix
  // that is resident after the restores that fitted is resumed instead.
  //
  // The lookup is counted in stats() unless `record` is false; then the caller counts it
  // with Record(*info) once it knows the lookup stands (the scheduler retries a request that
  // does not fit yet, and counts only the lookup it admits with).
  struct MatchInfo {
    int32_t tokens = 0;       // resumed
    int32_t host_tokens = 0;  // of those, on pages restored from the host tier
    int32_t disk_tokens = 0;  // ... from the disk tier (a page from both counts as disk)
    enum class Miss { kNone, kNoLookup, kNew, kEvicted, kWindow } miss = Miss::kNoLookup;
    bool lacked_room = false;  // the pool had no room to restore all of the prefix
  };
  int32_t Match(std::span<const int32_t> tokens, int32_t max_tokens, SeqKv* seq, MatchInfo* info = nullptr,
                bool record = true);
  void Record(const MatchInfo& info);
  // The tokens Match would resume now (host-tier pages counted), without pinning,
  // restoring or counting anything.
  int32_t Peek(std::span<const int32_t> tokens, int32_t max_tokens) const;

  // Caches the full pages of positions [0, computed) of `tokens`, whose K/V `seq` holds.
  // `boundaries`: positions where a turn ended (end of the prompt, end of the reply); the
  // window pages a resume there needs are kept longer.
  void Insert(std::span<const int32_t> tokens, int32_t computed, const SeqKv& seq,
              std::span<const int32_t> boundaries);

  // Frees pool pages held only by the cache until every group g has at least need[g] free
  // pages. Returns whether it got there.
  bool MakeRoom(const std::vector<int32_t>& need);

  // Drops everything (pool references and host copies).
  void Clear();

  // The shared tier (redis_tier.h; not owned, may be null): Insert then publishes each
  // cached pool page once, write-behind; admission asks it for what the local tiers miss
  // (RemotePlan), and ImportRemote puts the answer into the tree.
  void set_remote(RedisTier* remote) { remote_ = remote; }
  RedisTier* remote() const { return remote_; }
  // The pages (per group) of the first max_tokens of `tokens` (whole pages) that the local
  // tiers lack; empty when the local tiers could resume all but fewer than
  // `min_missing_tokens` of them (recomputing so few costs less than asking).
  std::vector<RemotePageId> RemotePlan(std::span<const int32_t> tokens, int32_t max_tokens,
                                       int32_t min_missing_tokens) const;
  // Copies the good pages of a lookup's answer for `tokens` into pool pages the cache holds
  // (nodes made as Insert makes them), in page order, from the first page the tree lacks;
  // stops at a gap (a page with no copy anywhere) or when the pool has no room. Returns the
  // pages imported.
  int32_t ImportRemote(std::span<const int32_t> tokens, const RemoteLookupResult& result);
  // Publishes every resident page not yet published (a drain's flush), waiting for room in
  // the write queue until `deadline`. Returns the pages queued.
  int64_t PublishAll(std::chrono::steady_clock::time_point deadline);

  const PrefixCacheStats& stats() const { return stats_; }
  int64_t num_nodes() const { return static_cast<int64_t>(nodes_.size()); }
  // Pool pages the cache holds a reference on, per group.
  const std::vector<int64_t>& resident_pages() const { return resident_; }
  const HostTier* host() const { return host_.get(); }
  const DiskTier* disk() const { return disk_.get(); }
  // Eviction candidates examined so far (evicted or skipped as pinned), for tests: an
  // eviction visits about as many nodes as it frees plus the pinned ones it passes.
  int64_t eviction_visits() const { return eviction_visits_; }
  // For tests: the (group, node key) of each pool page MakeRoom(need) would give up now, in
  // order, found as eviction did before the ordered sets, by scanning the tree (changes
  // nothing). With log_evictions on, evictions() lists the pages given up since.
  std::vector<std::pair<int32_t, uint64_t>> ScanEvictionOrder(const std::vector<int32_t>& need) const;
  void set_log_evictions(bool on) {
    log_evictions_ = on;
    evictions_.clear();
  }
  const std::vector<std::pair<int32_t, uint64_t>>& evictions() const { return evictions_; }

  // The pool pages the cache references, as one table per group (for
  // KvCache::CheckIntegrity with exact counts).
  SeqKv HeldPages() const;
  // Tree shape (parents present, child counts, depths, keys), every referenced pool page
  // in use, every host id stored, nothing of a group outside its layout; the eviction
  // sets hold exactly the nodes a scan of the tree would find, under their current keys.
  Status CheckIntegrity() const;

 private:
  struct Node;
  // The nodes of the longest cached page prefix of tokens (at most max_pages).
  std::vector<Node*> Walk(std::span<const int32_t> tokens, const std::vector<uint64_t>& keys) const;
  static bool SamePage(const Node* n, const Node* parent, std::span<const int32_t> page_tokens);
  Node* Find(uint64_t key, const Node* parent, std::span<const int32_t> page_tokens) const;
  bool Has(const Node* n, int32_t g) const;
  // Largest d <= limit such that the first d pages of path are resumable (counting pages
  // in the host tier unless `resident_only`); 0 if none.
  int32_t Resumable(const std::vector<Node*>& path, int32_t limit, bool resident_only) const;
  // Puts pages [0, d) of path that a resume at d needs into seq, one reference each.
  // REQUIRES: they are resident.
  void Pin(const std::vector<Node*>& path, int32_t d, SeqKv* seq);
  // First page a window group (window > 0) needs for a resume at d pages; 0 for global.
  int32_t FirstNeeded(int32_t group, int32_t d) const;
  // Marks the window pages resumes at this path's turn boundaries need (see Insert).
  void KeepWindows(const std::vector<Node*>& path, int32_t computed, std::span<const int32_t> boundaries,
                   int32_t max_window);
  // Frees up to `count` pool pages of group g that only the cache holds; returns how many.
  int32_t EvictSome(int32_t g, int32_t count);
  // Gives up the node's pool page in group g (spilling it to a lower tier if possible).
  void EvictPage(Node* n, int32_t g, bool spill);
  // Copies a node's page of group g from the host or disk tier into pool page p; false when
  // the disk copy is lost (then the node no longer has it).
  bool Restore(Node* n, int32_t g, int32_t p, bool* from_disk);
  // Stores an encoded page in the disk tier, dropping its LRU leaves for room; -1 if it
  // cannot.
  int64_t PutDisk(std::span<const uint8_t> blob);
  // A new node for page `depth` of a sequence, under `parent` (null at depth 0).
  // A free pool page of `group` to restore a cached page into, evicting to make one if
  // needed; -1 when nothing can be evicted.
  int32_t AllocateForRestore(int32_t group);
  Node* NewNode(uint64_t key, Node* parent, int32_t depth, std::span<const int32_t> page_tokens);
  // Queues n's resident pages not yet in the shared tier; false when the queue refused one.
  bool Publish(Node* n, std::chrono::steady_clock::time_point wait_until);
  // Removes n, then its parents, while they have no children and hold nothing anywhere.
  void Prune(Node* n);
  // Removes a node with no children and no pinned pages from the tree.
  void RemoveNode(Node* n);
  // Frees host bytes: with a disk tier, moves the least recently used host pages there;
  // otherwise drops the least recently used host-only leaf. False if nothing was freed.
  bool FreeHost();
  // Removes the least recently used leaf whose lowest copies are in the host tier (or, with
  // `disk`, the disk tier) and nowhere higher; false if there is none.
  bool DropLeaf(bool disk);
  bool Pinned(const Node* n) const;
  // A node's place in the eviction sets. Eviction order: least recently used first, deepest
  // first among equals, then the address (never needed: (last_use, depth) is unique, one
  // tick marks one path).
  struct EvKey {
    uint64_t use;
    int32_t depth;
    Node* node;
    bool operator<(const EvKey& o) const;
  };
  using EvSet = std::set<EvKey>;
  // Puts n in the sets its current state calls for, under its current key (call after any
  // change to its tick, pages, copies, children or keep_window).
  void Reindex(Node* n);
  void Unindex(Node* n);
  // Sets n's pool page of group g (or -1), keeping its parent's resident-children count
  // and both nodes' places in the sets.
  void SetPage(Node* n, int32_t g, int32_t p);
  // Evicts, oldest first, evictable nodes of `set` in group g until `done` reaches count.
  void EvictInOrder(const EvSet& set, int32_t g, int32_t count, bool spill, int32_t* done);
  Status CheckIndex() const;

  KvCache* kv_;
  PrefixCacheOptions options_;
  std::unique_ptr<HostTier> host_;
  std::unique_ptr<DiskTier> disk_;
  RedisTier* remote_ = nullptr;
  std::unordered_map<uint64_t, std::unique_ptr<Node>> nodes_;
  RecentKeys evicted_keys_;  // first pages once cached, then evicted (for miss reasons; fixed size)
  std::vector<int64_t> resident_;  // pool pages held per group
  uint64_t tick_ = 0;
  std::vector<EvSet> frontier_;  // [group] resident nodes with no resident children there
  std::vector<EvSet> unkept_;    // [window group] resident nodes, keep_window false
  EvSet hosted_;                 // nodes with a host-tier copy
  EvSet host_leaves_;            // leaves with host copies and no pool page
  EvSet disk_leaves_;            // leaves with only disk copies
  int64_t eviction_visits_ = 0;
  bool log_evictions_ = false;
  std::vector<std::pair<int32_t, uint64_t>> evictions_;
  PrefixCacheStats stats_;
};

}  // namespace parley
