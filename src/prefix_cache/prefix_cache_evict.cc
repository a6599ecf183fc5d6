// PrefixCache eviction: the ordered sets of eviction candidates, kept as nodes change, and
// the evictions that walk them (pool pages, host pages to disk, host and disk leaves); the
// test-only scan of the old eviction order and the check of the sets against the tree.
#include <algorithm>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "base/check.h"
#include "prefix_cache/page_codec.h"
#include "prefix_cache/prefix_cache.h"
#include "prefix_cache/prefix_cache_node.h"

namespace parley {

bool PrefixCache::EvKey::operator<(const EvKey& o) const {
  if (use != o.use) return use < o.use;
  if (depth != o.depth) return depth > o.depth;
  return std::less<const Node*>()(node, o.node);
}

void PrefixCache::Unindex(Node* n) {
  const EvKey k{n->indexed_use, n->depth, n};
  for (int32_t g = 0; g < kv_->num_groups(); ++g) {
    frontier_[g].erase(k);
    unkept_[g].erase(k);
  }
  hosted_.erase(k);
  host_leaves_.erase(k);
  disk_leaves_.erase(k);
}

void PrefixCache::Reindex(Node* n) {
  Unindex(n);
  n->indexed_use = n->last_use;
  const EvKey k{n->last_use, n->depth, n};
  bool resident = false, hosted = false, on_disk = false;
  for (int32_t g = 0; g < kv_->num_groups(); ++g) {
    if (n->page[g] >= 0) {
      resident = true;
      if (n->resident_children[g] == 0) frontier_[g].insert(k);
      if (!n->keep_window && kv_->layout().groups()[g].window != 0) unkept_[g].insert(k);
    }
    hosted |= n->host[g] >= 0;
    on_disk |= n->disk[g] >= 0;
  }
  if (hosted) hosted_.insert(k);
  if (n->num_children == 0 && !resident) {
    if (hosted) host_leaves_.insert(k);
    else if (on_disk) disk_leaves_.insert(k);
  }
}

void PrefixCache::SetPage(Node* n, int32_t g, int32_t p) {
  if ((n->page[g] >= 0) != (p >= 0) && n->parent != nullptr) {
    n->parent->resident_children[g] += p >= 0 ? 1 : -1;
    Reindex(n->parent);
  }
  n->page[g] = p;
  Reindex(n);
}

void PrefixCache::EvictPage(Node* n, int32_t g, bool spill) {
  PagePool& pool = kv_->pool(g);
  const int32_t p = n->page[g];
  PARLEY_DCHECK(p >= 0 && pool.refcount(p) == 1);
  if (spill && n->host[g] < 0 && n->disk[g] < 0) {
    if (host_ != nullptr) {
      int64_t id = host_->Put(pool.shape(), pool.page_data(p));
      while (id < 0 && FreeHost()) id = host_->Put(pool.shape(), pool.page_data(p));
      if (id >= 0) {
        n->host[g] = id;
        ++stats_.spilled_pages;
      }
    } else if (disk_ != nullptr) {
      const int64_t id = PutDisk(EncodePage(pool.shape(), options_.host_codec, pool.page_data(p)));
      if (id >= 0) {
        n->disk[g] = id;
        ++stats_.spilled_pages;
      }
    }
  }
  if (log_evictions_) evictions_.emplace_back(g, n->key);
  pool.Release(p);
  SetPage(n, g, -1);
  --resident_[g];
  ++stats_.evicted_pages;
  Prune(n);
}

bool PrefixCache::FreeHost() {
  if (disk_ == nullptr) return DropLeaf(/*disk=*/false);
  // Move the host copies of the least recently used nodes (deepest first among equals) to
  // disk, a batch at a time.
  constexpr size_t kBatch = 32;
  std::vector<Node*> victims;
  for (const EvKey& k : hosted_) {
    ++eviction_visits_;
    if (k.node->busy) continue;
    victims.push_back(k.node);
    if (victims.size() == kBatch) break;
  }
  if (victims.empty()) return false;
  // PutDisk may drop disk leaves: none of the batch (a victim already moved is a disk leaf;
  // dropping it freed the node this loop still used).
  for (Node* n : victims) n->busy = true;
  for (Node* n : victims) {
    for (int32_t g = 0; g < kv_->num_groups(); ++g) {
      if (n->host[g] < 0) continue;
      std::vector<uint8_t> blob = host_->Take(n->host[g]);
      n->host[g] = -1;
      if (n->disk[g] < 0) {
        n->disk[g] = PutDisk(blob);
        if (n->disk[g] < 0) ++stats_.host_dropped_pages;
      }
    }
  }
  for (Node* n : victims) {
    n->busy = false;
    Reindex(n);
  }
  // Nodes whose host copy could not move are pruned when they hold nothing else (by key:
  // pruning one may remove another victim, its parent).
  std::vector<uint64_t> keys;
  for (Node* n : victims) keys.push_back(n->key);
  for (uint64_t key : keys) {
    auto it = nodes_.find(key);
    if (it != nodes_.end()) Prune(it->second.get());
  }
  return true;
}

bool PrefixCache::DropLeaf(bool disk) {
  for (const EvKey& k : disk ? disk_leaves_ : host_leaves_) {
    ++eviction_visits_;
    if (k.node->busy) continue;
    RemoveNode(k.node);
    return true;
  }
  return false;
}

void PrefixCache::EvictInOrder(const EvSet& set, int32_t g, int32_t count, bool spill, int32_t* done) {
  PagePool& pool = kv_->pool(g);
  // Evicting a node may remove it (and empty ancestors) and may expose its parent, which
  // joins the set after it (a parent's tick is never older than its child's, and it is
  // shallower): resume after the last key seen.
  std::optional<EvKey> last;
  while (*done < count) {
    auto it = last ? set.upper_bound(*last) : set.begin();
    if (it == set.end()) break;
    last = *it;
    Node* n = it->node;
    ++eviction_visits_;
    if (n->busy || pool.refcount(n->page[g]) != 1) continue;  // pinned
    EvictPage(n, g, spill);
    ++*done;
  }
}

int32_t PrefixCache::EvictSome(int32_t g, int32_t count) {
  int32_t done = 0;
  // 1. Window pages no recent turn-boundary resume needs: dropped, not spilled.
  if (kv_->layout().groups()[g].window != 0) {
    EvictInOrder(unkept_[g], g, count, /*spill=*/false, &done);
    if (done >= count) return done;
  }
  // 2. The least recently used nodes without resident descendants in this group (deepest
  //    first among equals), spilled; evicting one may expose its parent, which then comes
  //    in its LRU place.
  EvictInOrder(frontier_[g], g, count, /*spill=*/true, &done);
  return done;
}

bool PrefixCache::MakeRoom(const std::vector<int32_t>& need) {
  for (int32_t g = 0; g < kv_->num_groups() && g < static_cast<int32_t>(need.size()); ++g) {
    const int32_t short_by = need[g] - kv_->pool(g).num_free();
    if (short_by > 0 && EvictSome(g, short_by) < short_by) return false;
  }
  return true;
}

std::vector<std::pair<int32_t, uint64_t>> PrefixCache::ScanEvictionOrder(const std::vector<int32_t>& need) const {
  auto older = [](const Node* a, const Node* b) {
    return a->last_use != b->last_use ? a->last_use < b->last_use : a->depth > b->depth;
  };
  std::vector<std::pair<int32_t, uint64_t>> order;
  for (int32_t g = 0; g < kv_->num_groups() && g < static_cast<int32_t>(need.size()); ++g) {
    const PagePool& pool = kv_->pool(g);
    const int32_t count = need[g] - pool.num_free();
    if (count <= 0) continue;
    auto evictable = [&](const Node* n) { return n->page[g] >= 0 && !n->busy && pool.refcount(n->page[g]) == 1; };
    std::unordered_set<const Node*> gone;
    if (kv_->layout().groups()[g].window != 0) {
      std::vector<Node*> victims;
      for (const auto& [key, node] : nodes_) {
        if (!node->keep_window && evictable(node.get())) victims.push_back(node.get());
      }
      const size_t take = std::min<size_t>(victims.size(), count);
      std::partial_sort(victims.begin(), victims.begin() + take, victims.end(), older);
      for (size_t i = 0; i < take; ++i) gone.insert(victims[i]);
    }
    std::vector<const Node*> picked(gone.begin(), gone.end());
    std::sort(picked.begin(), picked.end(), older);
    std::unordered_map<const Node*, int32_t> resident_children;
    for (const auto& [key, node] : nodes_) {
      if (node->page[g] >= 0 && !gone.count(node.get()) && node->parent != nullptr) ++resident_children[node->parent];
    }
    auto later = [&](const Node* a, const Node* b) { return older(b, a); };
    std::vector<const Node*> heap;
    for (const auto& [key, node] : nodes_) {
      if (evictable(node.get()) && !gone.count(node.get()) && !resident_children.count(node.get())) {
        heap.push_back(node.get());
      }
    }
    std::make_heap(heap.begin(), heap.end(), later);
    while (static_cast<int32_t>(picked.size()) < count && !heap.empty()) {
      std::pop_heap(heap.begin(), heap.end(), later);
      const Node* n = heap.back();
      heap.pop_back();
      picked.push_back(n);
      if (n->parent == nullptr) continue;
      auto rc = resident_children.find(n->parent);
      if (rc != resident_children.end() && --rc->second == 0) {
        resident_children.erase(rc);
        if (evictable(n->parent)) {
          heap.push_back(n->parent);
          std::push_heap(heap.begin(), heap.end(), later);
        }
      }
    }
    for (const Node* n : picked) order.emplace_back(g, n->key);
    if (static_cast<int32_t>(picked.size()) < count) break;
  }
  return order;
}

Status PrefixCache::CheckIndex() const {
  // What a scan of the tree finds for each eviction set, against what the set holds.
  const int32_t num_groups = kv_->num_groups();
  std::unordered_map<const Node*, std::vector<int32_t>> resident_children;
  for (const auto& [key, n] : nodes_) {
    if (n->parent == nullptr) continue;
    auto& counts = resident_children[n->parent];
    counts.resize(num_groups, 0);
    for (int32_t g = 0; g < num_groups; ++g) counts[g] += n->page[g] >= 0;
  }
  std::vector<size_t> frontier(num_groups, 0), unkept(num_groups, 0);
  size_t hosted = 0, host_leaves = 0, disk_leaves = 0;
  for (const auto& [key, node] : nodes_) {
    const Node* n = node.get();
    const std::string where = "prefix cache node at depth " + std::to_string(n->depth);
    const EvKey k{n->last_use, n->depth, const_cast<Node*>(n)};
    if (n->indexed_use != n->last_use) return Status::Error(where + ": eviction key is stale");
    auto in = [&](const EvSet& set, bool want, size_t* count) {
      *count += want;
      return set.count(k) == static_cast<size_t>(want);
    };
    bool resident = false, host = false, disk = false;
    for (int32_t g = 0; g < num_groups; ++g) {
      auto it = resident_children.find(n);
      const int32_t children = it == resident_children.end() ? 0 : it->second[g];
      if (n->resident_children[g] != children) return Status::Error(where + ": resident children count is off");
      const bool here = n->page[g] >= 0;
      resident |= here;
      host |= n->host[g] >= 0;
      disk |= n->disk[g] >= 0;
      if (!in(frontier_[g], here && children == 0, &frontier[g]) ||
          !in(unkept_[g], here && !n->keep_window && kv_->layout().groups()[g].window != 0, &unkept[g])) {
        return Status::Error(where + ": eviction sets of group " + std::to_string(g) + " are off");
      }
    }
    const bool leaf = n->num_children == 0 && !resident;
    if (!in(hosted_, host, &hosted) || !in(host_leaves_, leaf && host, &host_leaves) ||
        !in(disk_leaves_, leaf && !host && disk, &disk_leaves)) {
      return Status::Error(where + ": tier eviction sets are off");
    }
  }
  bool sizes = hosted == hosted_.size() && host_leaves == host_leaves_.size() && disk_leaves == disk_leaves_.size();
  for (int32_t g = 0; g < num_groups; ++g) sizes &= frontier[g] == frontier_[g].size() && unkept[g] == unkept_[g].size();
  if (!sizes) return Status::Error("eviction sets hold nodes no longer in the tree");
  return Status::Ok();
}

}  // namespace parley
