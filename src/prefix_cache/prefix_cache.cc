#include "prefix_cache/prefix_cache.h"

#include <algorithm>
#include <optional>

#include "base/check.h"
#include "prefix_cache/page_hash.h"
#include "prefix_cache/prefix_cache_node.h"

namespace parley {

// Window pages kept before the window of a turn boundary (see Insert).
constexpr int32_t kKeepSlackPages = 4;

PrefixCache::PrefixCache(KvCache* kv, const PrefixCacheOptions& options, std::unique_ptr<DiskTier> disk)
    : kv_(kv), options_(options), disk_(std::move(disk)) {
  resident_.assign(kv->num_groups(), 0);
  frontier_.resize(kv->num_groups());
  unkept_.resize(kv->num_groups());
  if (options.host_bytes > 0) host_ = std::make_unique<HostTier>(options.host_bytes, options.host_codec);
}

PrefixCache::~PrefixCache() { Clear(); }

void PrefixCache::Clear() {
  for (auto& [key, n] : nodes_) {
    for (int32_t g = 0; g < kv_->num_groups(); ++g) {
      if (n->page[g] >= 0) kv_->pool(g).Release(n->page[g]);
      if (n->host[g] >= 0) host_->Drop(n->host[g]);
      if (n->disk[g] >= 0) disk_->Drop(n->disk[g]);
    }
  }
  nodes_.clear();
  resident_.assign(kv_->num_groups(), 0);
  for (EvSet& set : frontier_) set.clear();
  for (EvSet& set : unkept_) set.clear();
  hosted_.clear();
  host_leaves_.clear();
  disk_leaves_.clear();
}

bool PrefixCache::SamePage(const Node* n, const Node* parent, std::span<const int32_t> page_tokens) {
  return n->parent == parent && std::equal(n->tokens.begin(), n->tokens.end(), page_tokens.begin(), page_tokens.end());
}

PrefixCache::Node* PrefixCache::Find(uint64_t key, const Node* parent, std::span<const int32_t> page_tokens) const {
  auto it = nodes_.find(key);
  if (it == nodes_.end()) return nullptr;
  Node* n = it->second.get();
  if (!SamePage(n, parent, page_tokens)) return nullptr;  // a 64-bit collision: treated as a miss
  return n;
}

bool PrefixCache::Has(const Node* n, int32_t g) const {
  return n->page[g] >= 0 || n->host[g] >= 0 || n->disk[g] >= 0;
}

bool PrefixCache::Pinned(const Node* n) const {
  if (n->busy) return true;
  for (int32_t g = 0; g < kv_->num_groups(); ++g) {
    if (n->page[g] >= 0 && kv_->pool(g).refcount(n->page[g]) > 1) return true;
  }
  return false;
}

int32_t PrefixCache::FirstNeeded(int32_t group, int32_t d) const {
  const int32_t window = kv_->layout().groups()[group].window;
  return window == 0 ? 0 : std::max(0, d * kv_->page_size() - window) / kv_->page_size();
}

int32_t PrefixCache::Resumable(const std::vector<Node*>& path, int32_t limit, bool resident_only) const {
  auto has = [&](const Node* n, int32_t g) { return resident_only ? n->page[g] >= 0 : Has(n, g); };
  const auto& groups = kv_->layout().groups();
  for (int32_t g = 0; g < kv_->num_groups(); ++g) {
    if (groups[g].window != 0) continue;
    for (int32_t i = 0; i < limit; ++i) {
      if (!has(path[i], g)) {
        limit = i;
        break;
      }
    }
  }
  for (int32_t d = limit; d >= 1; --d) {
    bool ok = true;
    for (int32_t g = 0; g < kv_->num_groups() && ok; ++g) {
      if (groups[g].window == 0) continue;
      for (int32_t i = FirstNeeded(g, d); i < d; ++i) {
        if (!has(path[i], g)) {
          ok = false;
          break;
        }
      }
    }
    if (ok) return d;
  }
  return 0;
}

void PrefixCache::Pin(const std::vector<Node*>& path, int32_t d, SeqKv* seq) {
  seq->pages.assign(kv_->num_groups(), std::vector<int32_t>(d, -1));
  for (int32_t g = 0; g < kv_->num_groups(); ++g) {
    for (int32_t i = FirstNeeded(g, d); i < d; ++i) {
      PARLEY_CHECK(path[i]->page[g] >= 0);
      kv_->pool(g).AddRef(path[i]->page[g]);
      seq->pages[g][i] = path[i]->page[g];
    }
  }
}

std::vector<PrefixCache::Node*> PrefixCache::Walk(std::span<const int32_t> tokens,
                                                   const std::vector<uint64_t>& keys) const {
  const int32_t ps = kv_->page_size();
  std::vector<Node*> path;
  const Node* parent = nullptr;
  for (size_t i = 0; i < keys.size(); ++i) {
    Node* n = Find(keys[i], parent, tokens.subspan(i * ps, ps));
    if (n == nullptr) break;
    path.push_back(n);
    parent = n;
  }
  return path;
}

int32_t PrefixCache::Peek(std::span<const int32_t> tokens, int32_t max_tokens) const {
  const int32_t ps = kv_->page_size();
  const int32_t max_pages = std::min<int32_t>(max_tokens, static_cast<int32_t>(tokens.size())) / ps;
  if (max_pages <= 0 || nodes_.empty()) return 0;
  std::vector<Node*> path = Walk(tokens, PageKeys(tokens, ps, max_pages));
  return Resumable(path, static_cast<int32_t>(path.size()), /*resident_only=*/false) * ps;
}

void PrefixCache::Record(const MatchInfo& info) {
  switch (info.miss) {
    case MatchInfo::Miss::kNoLookup:
      return;
    case MatchInfo::Miss::kNone:
      ++stats_.hits;
      stats_.hit_tokens_host += info.host_tokens;
      stats_.hit_tokens_disk += info.disk_tokens;
      stats_.hit_tokens_pool += info.tokens - info.host_tokens - info.disk_tokens;
      break;
    case MatchInfo::Miss::kNew:
      ++stats_.miss_new;
      break;
    case MatchInfo::Miss::kEvicted:
      ++stats_.miss_evicted;
      break;
    case MatchInfo::Miss::kWindow:
      ++stats_.miss_window;
      break;
  }
  ++stats_.lookups;
}

int32_t PrefixCache::Match(std::span<const int32_t> tokens, int32_t max_tokens, SeqKv* seq, MatchInfo* info_out,
                           bool record) {
  MatchInfo local;
  MatchInfo& info = info_out != nullptr ? *info_out : local;
  info = MatchInfo{};
  struct Recorder {
    PrefixCache* cache;
    const MatchInfo& info;
    bool on;
    ~Recorder() {
      if (on) cache->Record(info);
    }
  } recorder{this, info, record};

  const int32_t ps = kv_->page_size();
  const int32_t num_groups = kv_->num_groups();
  const int32_t max_pages = std::min<int32_t>(max_tokens, static_cast<int32_t>(tokens.size())) / ps;
  if (max_pages <= 0) return 0;
  for (const auto& table : seq->pages) {
    for (int32_t p : table) PARLEY_CHECK(p < 0) << "Match into a sequence that holds pages";
  }
  const std::vector<uint64_t> keys = PageKeys(tokens, ps, max_pages);
  std::vector<Node*> path = Walk(tokens, keys);
  if (path.empty()) {
    info.miss = evicted_keys_.Contains(keys[0]) ? MatchInfo::Miss::kEvicted : MatchInfo::Miss::kNew;
    return 0;
  }
  int32_t d = Resumable(path, static_cast<int32_t>(path.size()), /*resident_only=*/false);
  if (d == 0) {
    info.miss = MatchInfo::Miss::kWindow;
    return 0;
  }

  // Restore what is only in a lower tier, page by page from the start, while the pool has
  // room for it (pages of this prefix are busy: eviction leaves them alone). A disk page
  // that cannot be read stops the restore there, as a full pool does.
  for (int32_t i = 0; i < d; ++i) path[i]->busy = true;
  std::vector<int8_t> restored(d, 0);  // 1: from the host tier, 2: from disk
  bool stopped = false;
  std::optional<uint64_t> lost_key;  // a node whose disk copy could not be read
  struct PruneLost {
    PrefixCache* cache;
    const std::optional<uint64_t>& key;
    ~PruneLost() {
      if (!key) return;
      auto it = cache->nodes_.find(*key);
      if (it != cache->nodes_.end()) cache->Prune(it->second.get());
    }
  } prune_lost{this, lost_key};
  for (int32_t i = 0; i < d && !stopped; ++i) {
    for (int32_t g = 0; g < num_groups; ++g) {
      Node* n = path[i];
      if (i < FirstNeeded(g, d) || n->page[g] >= 0) continue;
      PagePool& pool = kv_->pool(g);
      const int32_t p = AllocateForRestore(g);
      if (p < 0) {
        stopped = true;
        break;
      }
      bool from_disk = false;
      if (!Restore(n, g, p, &from_disk)) {
        pool.Release(p);
        lost_key = n->key;
        stopped = true;
        break;
      }
      SetPage(n, g, p);  // the cache's reference (the lower copy stays: a later eviction need not spill)
      ++resident_[g];
      restored[i] = std::max<int8_t>(restored[i], from_disk ? 2 : 1);
      ++stats_.restored_pages;
      if (from_disk) ++stats_.disk_restored_pages;
    }
  }
  for (int32_t i = 0; i < static_cast<int32_t>(path.size()); ++i) path[i]->busy = false;
  if (stopped) {
    info.lacked_room = true;
    d = Resumable(path, d, /*resident_only=*/true);
    if (d == 0) {
      info.miss = MatchInfo::Miss::kEvicted;
      return 0;
    }
  }
  Pin(path, d, seq);
  const uint64_t t = ++tick_;
  for (int32_t i = 0; i < d; ++i) {
    path[i]->last_use = t;
    Reindex(path[i]);
    if (restored[i] == 1) info.host_tokens += ps;
    if (restored[i] == 2) info.disk_tokens += ps;
  }
  info.tokens = d * ps;
  info.miss = MatchInfo::Miss::kNone;
  return d * ps;
}

void PrefixCache::Insert(std::span<const int32_t> tokens, int32_t computed, const SeqKv& seq,
                         std::span<const int32_t> boundaries) {
  const int32_t ps = kv_->page_size();
  const int32_t num_groups = kv_->num_groups();
  const int32_t full = std::min<int32_t>(computed, static_cast<int32_t>(tokens.size())) / ps;
  if (full <= 0) return;
  const std::vector<uint64_t> keys = PageKeys(tokens, ps, full);
  const uint64_t t = ++tick_;
  std::vector<Node*> path;
  Node* parent = nullptr;
  for (int32_t i = 0; i < full; ++i) {
    std::span<const int32_t> page_tokens = tokens.subspan(static_cast<size_t>(i) * ps, ps);
    Node* n;
    auto it = nodes_.find(keys[i]);
    if (it != nodes_.end()) {
      n = it->second.get();
      if (!SamePage(n, parent, page_tokens)) break;  // a collision: cache no further
    } else {
      n = NewNode(keys[i], parent, i, page_tokens);
    }
    for (int32_t g = 0; g < num_groups; ++g) {
      if (n->page[g] >= 0 || g >= static_cast<int32_t>(seq.pages.size())) continue;
      const std::vector<int32_t>& table = seq.pages[g];
      if (i < static_cast<int32_t>(table.size()) && table[i] >= 0) {
        kv_->pool(g).AddRef(table[i]);
        n->page[g] = table[i];
        if (parent != nullptr) ++parent->resident_children[g];
        ++resident_[g];
      }
    }
    n->last_use = t;
    path.push_back(n);
    parent = n;
  }
  int32_t max_window = 0;
  for (const KvGroup& group : kv_->layout().groups()) max_window = std::max(max_window, group.window);
  if (max_window > 0) KeepWindows(path, computed, boundaries, max_window);
  for (Node* n : path) Reindex(n);  // new ticks, pages, children, keep_window
  if (remote_ != nullptr) {
    for (Node* n : path) {
      if (!Publish(n, std::chrono::steady_clock::time_point::min())) break;
    }
  }
}

int32_t PrefixCache::AllocateForRestore(int32_t group) {
  PagePool& pool = kv_->pool(group);
  std::vector<int32_t> need(kv_->num_groups(), 0);
  need[group] = 1;
  if (pool.num_free() == 0 && !MakeRoom(need)) return -1;
  const int32_t p = pool.Allocate();
  PARLEY_CHECK(p >= 0);
  return p;
}

PrefixCache::Node* PrefixCache::NewNode(uint64_t key, Node* parent, int32_t depth,
                                        std::span<const int32_t> page_tokens) {
  const int32_t num_groups = kv_->num_groups();
  auto node = std::make_unique<Node>();
  node->key = key;
  node->parent = parent;
  node->depth = depth;
  node->tokens.assign(page_tokens.begin(), page_tokens.end());
  node->page.assign(num_groups, -1);
  node->host.assign(num_groups, -1);
  node->disk.assign(num_groups, -1);
  node->resident_children.assign(num_groups, 0);
  Node* n = node.get();
  nodes_.emplace(key, std::move(node));
  if (parent != nullptr) ++parent->num_children;
  if (depth == 0) evicted_keys_.Erase(key);
  ++stats_.inserted_pages;
  return n;
}

void PrefixCache::KeepWindows(const std::vector<Node*>& path, int32_t computed, std::span<const int32_t> boundaries,
                              int32_t max_window) {
  const int32_t ps = kv_->page_size();
  // Window pages are kept for resumes at this sequence's turn boundaries. Those of earlier
  // boundaries on the same path (older turns of the conversation) are superseded: under
  // pressure they go first, so a long conversation keeps about one window of them, not all.
  // Resumes happen a little before a boundary (the next prompt diverges inside the reply's
  // last page, or an edit diverges inside the message), so kKeepSlackPages more are kept.
  const int32_t slack = kKeepSlackPages * ps;
  int32_t first_kept = static_cast<int32_t>(path.size());
  for (int32_t b : boundaries) {
    const int32_t d = std::min<int32_t>(std::min(b, computed) / ps, static_cast<int32_t>(path.size()));
    first_kept = std::min(first_kept, std::max(0, d * ps - max_window - slack) / ps);
  }
  for (int32_t i = 0; i < first_kept; ++i) path[i]->keep_window = false;
  for (int32_t b : boundaries) {
    const int32_t d = std::min<int32_t>(std::min(b, computed) / ps, static_cast<int32_t>(path.size()));
    for (int32_t i = std::max(0, d * ps - max_window - slack) / ps; i < d; ++i) path[i]->keep_window = true;
  }
}

void PrefixCache::Prune(Node* n) {
  // A node left with nothing, and no children, goes; so may its parent then.
  while (n != nullptr && n->num_children == 0 && !n->busy) {
    for (int32_t h = 0; h < kv_->num_groups(); ++h) {
      if (Has(n, h)) return;
    }
    Node* parent = n->parent;
    RemoveNode(n);
    n = parent;
  }
}

bool PrefixCache::Restore(Node* n, int32_t g, int32_t p, bool* from_disk) {
  PagePool& pool = kv_->pool(g);
  if (n->host[g] >= 0) {
    host_->Get(n->host[g], pool.shape(), pool.page_data(p));
    *from_disk = false;
    return true;
  }
  PARLEY_CHECK(n->disk[g] >= 0);
  std::vector<uint8_t> blob;
  if (disk_->Get(n->disk[g], &blob).ok() && DecodePage(pool.shape(), options_.host_codec, blob, pool.page_data(p))) {
    *from_disk = true;
    return true;
  }
  if (disk_->Contains(n->disk[g])) disk_->Drop(n->disk[g]);
  n->disk[g] = -1;
  Reindex(n);
  ++stats_.disk_read_errors;
  return false;
}

int64_t PrefixCache::PutDisk(std::span<const uint8_t> blob) {
  int64_t id = disk_->Put(blob);
  while (id < 0 && disk_->bytes_used() + static_cast<int64_t>(blob.size()) > disk_->budget_bytes() && DropLeaf(/*disk=*/true)) {
    id = disk_->Put(blob);
  }
  if (id >= 0) ++stats_.disk_written_pages;
  return id;
}

void PrefixCache::RemoveNode(Node* n) {
  PARLEY_CHECK(n->num_children == 0 && !Pinned(n));
  Unindex(n);
  for (int32_t g = 0; g < kv_->num_groups(); ++g) {
    if (n->page[g] >= 0) {
      kv_->pool(g).Release(n->page[g]);
      if (n->parent != nullptr) --n->parent->resident_children[g];
      --resident_[g];
      ++stats_.evicted_pages;
    }
    if (n->host[g] >= 0) {
      host_->Drop(n->host[g]);
      ++stats_.host_dropped_pages;
    }
    if (n->disk[g] >= 0) {
      disk_->Drop(n->disk[g]);
      ++stats_.disk_dropped_pages;
    }
  }
  if (n->parent != nullptr) {
    --n->parent->num_children;
    Reindex(n->parent);
  }
  if (n->depth == 0) {
    evicted_keys_.Insert(n->key);
  }
  nodes_.erase(n->key);
}

SeqKv PrefixCache::HeldPages() const {
  SeqKv held = kv_->NewSeq();
  for (const auto& [key, n] : nodes_) {
    for (int32_t g = 0; g < kv_->num_groups(); ++g) {
      if (n->page[g] >= 0) held.pages[g].push_back(n->page[g]);
    }
  }
  return held;
}

Status PrefixCache::CheckIntegrity() const {
  const int32_t ps = kv_->page_size();
  const int32_t num_groups = kv_->num_groups();
  std::unordered_map<const Node*, int32_t> children;
  std::vector<std::unordered_set<int32_t>> pages(num_groups);
  int64_t hosted = 0, on_disk = 0;
  for (const auto& [key, node] : nodes_) {
    const Node* n = node.get();
    const std::string where = "prefix cache node at depth " + std::to_string(n->depth);
    if (n->key != key) return Status::Error(where + ": key does not match its map entry");
    if (static_cast<int32_t>(n->tokens.size()) != ps) return Status::Error(where + ": not one page of tokens");
    if (n->busy) return Status::Error(where + ": still marked busy");
    uint64_t parent_key = kPageKeySeed;
    if (n->parent != nullptr) {
      auto it = nodes_.find(n->parent->key);
      if (it == nodes_.end() || it->second.get() != n->parent) return Status::Error(where + ": parent not in the tree");
      if (n->depth != n->parent->depth + 1) return Status::Error(where + ": depth is not its parent's + 1");
      parent_key = n->parent->key;
      ++children[n->parent];
    } else if (n->depth != 0) {
      return Status::Error(where + ": no parent below depth 0");
    }
    if (ChainPageKey(parent_key, n->tokens) != n->key) return Status::Error(where + ": key is not the chained hash");
    if (static_cast<int32_t>(n->page.size()) != num_groups || static_cast<int32_t>(n->host.size()) != num_groups ||
        static_cast<int32_t>(n->disk.size()) != num_groups) {
      return Status::Error(where + ": wrong number of groups");
    }
    for (int32_t g = 0; g < num_groups; ++g) {
      if (n->page[g] >= 0) {
        if (n->page[g] >= kv_->pool(g).num_pages() || kv_->pool(g).refcount(n->page[g]) < 1) {
          return Status::Error(where + ": holds a free or invalid page in group " + std::to_string(g));
        }
        if (!pages[g].insert(n->page[g]).second) {
          return Status::Error(where + ": a pool page of group " + std::to_string(g) + " is held by two nodes");
        }
      }
      if (n->host[g] >= 0) {
        if (host_ == nullptr || !host_->Contains(n->host[g])) return Status::Error(where + ": host copy missing");
        ++hosted;
      }
      if (n->disk[g] >= 0) {
        if (disk_ == nullptr || !disk_->Contains(n->disk[g])) return Status::Error(where + ": disk copy missing");
        ++on_disk;
      }
    }
  }
  for (const auto& [key, node] : nodes_) {
    auto it = children.find(node.get());
    if ((it == children.end() ? 0 : it->second) != node->num_children) {
      return Status::Error("prefix cache node at depth " + std::to_string(node->depth) + ": wrong child count");
    }
  }
  if (host_ != nullptr && hosted != host_->num_pages()) return Status::Error("host tier holds pages no node names");
  if (disk_ != nullptr && on_disk != disk_->num_pages()) return Status::Error("disk tier holds pages no node names");
  for (int32_t g = 0; g < num_groups; ++g) {
    if (static_cast<int64_t>(pages[g].size()) != resident_[g]) {
      return Status::Error("prefix cache resident page count of group " + std::to_string(g) + " is off");
    }
  }
  return CheckIndex();
}

}  // namespace parley
