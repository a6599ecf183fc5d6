// PrefixCache and the shared (Redis) tier: what to publish, what to ask for, and how an
// answer becomes cached pool pages (prefix_cache.h, redis_tier.h).
#include <algorithm>
#include <unordered_map>

#include "base/check.h"
#include "prefix_cache/page_hash.h"
#include "prefix_cache/prefix_cache.h"
#include "prefix_cache/prefix_cache_node.h"

namespace parley {

bool PrefixCache::Publish(Node* n, std::chrono::steady_clock::time_point wait_until) {
  for (int32_t g = 0; g < kv_->num_groups(); ++g) {
    const uint64_t bit = uint64_t{1} << g;
    if (n->page[g] < 0 || (n->remote & bit) != 0) continue;
    PagePool& pool = kv_->pool(g);
    RemotePage page;
    page.id = RemotePageId{n->key, n->parent != nullptr ? n->parent->key : kPageKeySeed, g, n->tokens};
    page.codec = options_.host_codec;
    page.payload = EncodePage(pool.shape(), page.codec, pool.page_data(n->page[g]));
    if (!remote_->Publish(std::move(page), wait_until)) {
      ++stats_.remote_unpublished_pages;
      return false;
    }
    n->remote |= bit;
    ++stats_.remote_published_pages;
  }
  return true;
}

int64_t PrefixCache::PublishAll(std::chrono::steady_clock::time_point deadline) {
  if (remote_ == nullptr) return 0;
  const int64_t before = stats_.remote_published_pages;
  // Parents first (shallower depth), so a page is never in Redis without the ones before it
  // longer than the flush takes.
  std::vector<Node*> order;
  for (auto& [key, n] : nodes_) order.push_back(n.get());
  std::sort(order.begin(), order.end(), [](const Node* a, const Node* b) { return a->depth < b->depth; });
  for (Node* n : order) {
    if (!Publish(n, deadline)) break;
  }
  return stats_.remote_published_pages - before;
}

std::vector<RemotePageId> PrefixCache::RemotePlan(std::span<const int32_t> tokens, int32_t max_tokens,
                                                  int32_t min_missing_tokens) const {
  const int32_t ps = kv_->page_size();
  const int32_t max_pages = std::min<int32_t>(max_tokens, static_cast<int32_t>(tokens.size())) / ps;
  if (max_pages <= 0) return {};
  const std::vector<uint64_t> keys = PageKeys(tokens, ps, max_pages);
  const std::vector<Node*> path = Walk(tokens, keys);
  const int32_t local = Resumable(path, static_cast<int32_t>(path.size()), /*resident_only=*/false);
  if (local == max_pages || (max_pages - local) * ps < min_missing_tokens) return {};
  // Window groups are asked for every page too: where the resume lands (and so which window
  // pages it needs) depends on how much of the chain Redis has; values that are not there
  // cost a nil each.
  std::vector<RemotePageId> ids;
  for (int32_t i = 0; i < max_pages; ++i) {
    for (int32_t g = 0; g < kv_->num_groups(); ++g) {
      if (i < static_cast<int32_t>(path.size()) && Has(path[i], g)) continue;
      std::span<const int32_t> page = tokens.subspan(static_cast<size_t>(i) * ps, ps);
      ids.push_back(RemotePageId{keys[i], i > 0 ? keys[i - 1] : kPageKeySeed, g,
                                 std::vector<int32_t>(page.begin(), page.end())});
    }
  }
  return ids;
}

int32_t PrefixCache::ImportRemote(std::span<const int32_t> tokens, const RemoteLookupResult& result) {
  const int32_t ps = kv_->page_size();
  const int32_t num_groups = kv_->num_groups();
  int32_t max_pages = 0;
  const std::vector<uint64_t> all_keys =
      PageKeys(tokens, ps, static_cast<int32_t>(tokens.size()) / ps);
  std::unordered_map<uint64_t, int32_t> index;
  for (int32_t i = 0; i < static_cast<int32_t>(all_keys.size()); ++i) index.emplace(all_keys[i], i);
  std::vector<std::vector<size_t>> hits(all_keys.size());
  for (size_t j = 0; j < result.ids.size(); ++j) {
    if (!result.hit[j]) continue;
    auto it = index.find(result.ids[j].key);
    if (it == index.end() || result.ids[j].group < 0 || result.ids[j].group >= num_groups) continue;
    hits[it->second].push_back(j);
    max_pages = std::max(max_pages, it->second + 1);
  }
  if (max_pages == 0) return 0;
  const std::vector<uint64_t> keys(all_keys.begin(), all_keys.begin() + max_pages);
  const std::vector<Node*> path = Walk(tokens, keys);
  std::vector<Node*> touched;
  Node* parent = nullptr;
  int32_t imported = 0;
  bool stopped = false;
  const uint64_t t = ++tick_;
  for (int32_t i = 0; i < max_pages && !stopped; ++i) {
    Node* n = i < static_cast<int32_t>(path.size()) ? path[i] : nullptr;
    if (n == nullptr) {
      if (hits[i].empty()) break;  // a gap: nothing after it can be resumed
      if (nodes_.count(keys[i]) != 0) break;  // a 64-bit collision with another prefix: stop
      n = NewNode(keys[i], parent, i, tokens.subspan(static_cast<size_t>(i) * ps, ps));
    }
    n->busy = true;  // MakeRoom must not take what this import just put in
    touched.push_back(n);
    for (size_t j : hits[i]) {
      const int32_t g = result.ids[j].group;
      if (n->page[g] >= 0) continue;
      PagePool& pool = kv_->pool(g);
      const int32_t p = AllocateForRestore(g);
      if (p < 0) {
        stopped = true;
        break;
      }
      if (!DecodePage(pool.shape(), result.codecs[j], result.payloads[j], pool.page_data(p))) {
        pool.Release(p);
        ++stats_.remote_undecodable_pages;
        continue;
      }
      SetPage(n, g, p);
      ++resident_[g];
      n->remote |= uint64_t{1} << g;  // it came from there
      ++imported;
      ++stats_.remote_imported_pages;
    }
    n->last_use = t;
    parent = n;
  }
  for (Node* n : touched) n->busy = false;
  for (Node* n : touched) Reindex(n);
  // A node made here that got nothing (every value undecodable, or no room) goes, with
  // any empty parents made here too.
  if (!touched.empty()) Prune(touched.back());
  return imported;
}

}  // namespace parley
