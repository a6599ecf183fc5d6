// KvCache: the paged KV memory of all sequences. One preallocated arena (--kv-cache-mb)
// is split between the KV groups of a KvLayout, each group a PagePool. A sequence holds a
// SeqKv: one block table per group mapping its logical pages (positions
// [i * page_size, (i + 1) * page_size)) to pool pages. Window groups only keep the pages
// that overlap the last `window` positions; older ones are released (-1 in the table).
// Not thread-safe: owned by the engine thread (or one Generator).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/check.h"
#include "base/status.h"
#include "kv/kv_layout.h"
#include "kv/page_pool.h"

namespace parley {

struct KvCacheOptions {
  int64_t arena_bytes = 256ll << 20;  // all groups together
  int32_t page_size = 16;             // positions per page
  KvDtype dtype = KvDtype::kF32;
  // The longest sequence expected (the context size): the arena is split so that every
  // group can hold the same number of such sequences (a window group needs only
  // window + max_chunk - 1 + page_size positions of each).
  int32_t max_context = 4096;
  // The most tokens one sequence computes in one step: while a chunk is computed, its
  // K/V sit in pages of window groups too, next to the window before it.
  int32_t max_chunk = 512;
  // Positions window groups keep before the window (ReleaseOutsideWindow): with a prefix
  // cache, a sequence's next turn resumes a little before where it ended, and needs the
  // window before that point.
  int32_t window_keep = 0;
};

// A sequence's block tables. Entry -1: never allocated or released (window groups).
struct SeqKv {
  std::vector<std::vector<int32_t>> pages;  // [group][logical page] -> pool page or -1
};

class KvCache {
 public:
  // Errors: arena too small to give every group at least one page per sequence of
  // max_context, page_size < 1.
  static StatusOr<std::unique_ptr<KvCache>> Create(const KvLayout& layout,
                                                   const KvCacheOptions& options);
  ~KvCache();

  const KvLayout& layout() const { return layout_; }
  int32_t page_size() const { return options_.page_size; }
  KvDtype dtype() const { return options_.dtype; }
  int32_t num_groups() const { return layout_.num_groups(); }
  PagePool& pool(int32_t group) { return *pools_[group]; }
  const PagePool& pool(int32_t group) const { return *pools_[group]; }

  // An empty SeqKv for this cache (one table per group).
  SeqKv NewSeq() const;

  // Pages group g must allocate so positions [computed, total) can be computed (their K/V
  // written, and every key they attend to present), given positions [0, computed) are.
  // Window groups need pages overlapping [computed - window + 1, total) only.
  int32_t PagesNeeded(const SeqKv& seq, int32_t group, int32_t computed, int32_t total) const;
  // Allocates those pages in every group. All or nothing: false (nothing changed) when a
  // pool lacks free pages.
  bool Reserve(SeqKv* seq, int32_t computed, int32_t total);
  // Releases window-group pages that no longer overlap the last `window` (+ window_keep)
  // positions [computed - window, computed) (pages whose last position is < computed - window). This
  // keeps exactly what CanResumeAt(computed) and BytesForContext(computed) count; the
  // queries at positions >= computed need only [computed - window + 1, ...).
  void ReleaseOutsideWindow(SeqKv* seq, int32_t computed);
  // Drops pages holding positions >= n (a rewind). Positions [0, n) stay.
  void Truncate(SeqKv* seq, int32_t n);
  // Releases every page of the sequence; the tables become empty.
  void Free(SeqKv* seq);
  // Starts `to` (holding no pages) as a copy of `from` at position `computed`, for choices
  // that continue one prompt differently (OpenAI `n`): full pages of [0, computed) are shared
  // (one reference more each; a full page is never written again), the page holding
  // position `computed` is copied (both sequences write their own next tokens there), pages
  // `from` released (window groups) stay absent, and pages past `computed` are not taken.
  // All or nothing: false (nothing changed) when a pool lacks a page for a copy.
  // REQUIRES: CanResumeAt(from, computed).
  bool Fork(const SeqKv& from, int32_t computed, SeqKv* to);
  // True if computation can continue at position n: global groups hold every page of
  // [0, n) and window groups the pages overlapping [n - window, n).
  bool CanResumeAt(const SeqKv& seq, int32_t n) const;

  // K / V row (PagePoolShape::row_bytes() bytes of dtype()) of `layer` (resolved to its owner) at `pos`.
  // REQUIRES: the page holding pos is present in the layer's group.
  uint8_t* k_row(const SeqKv& seq, int32_t layer, int32_t pos) {
    return Locate(seq, layer, pos, /*v=*/false);
  }
  uint8_t* v_row(const SeqKv& seq, int32_t layer, int32_t pos) {
    return Locate(seq, layer, pos, /*v=*/true);
  }

  // Bytes of KV one sequence of `context` tokens holds at its end, summed over groups
  // (window groups: the pages of its last window), and what a cache that keeps every
  // layer's K/V for every position in f32 would hold.
  int64_t BytesForContext(int32_t context) const {
    return BytesForContext(layout_, options_, context);
  }
  // The same for a layout and options, without a cache.
  static int64_t BytesForContext(const KvLayout& layout, const KvCacheOptions& options,
                                 int32_t context);
  // The arena (options.arena_bytes) that gives every group, as Create splits it, room for
  // `sequences` sequences of options.max_context: 1.0 is the smallest Create accepts.
  static int64_t ArenaBytesFor(const KvLayout& layout, const KvCacheOptions& options,
                               double sequences);
  int64_t FullCacheBytesForContext(int32_t context, int32_t num_layers) const;
  // "group 0 (window 512, 5 layers): 123/456 pages; group 1 (global, 1 layer): ..."
  std::string DescribeUsage() const;

  // Every pool's free list and refcounts agree, and each page referenced from `seqs`
  // has refcount >= its number of references (== when `exact`: nothing else holds pages).
  Status CheckIntegrity(const std::vector<const SeqKv*>& seqs, bool exact) const;

 private:
  KvCache(const KvLayout& layout, const KvCacheOptions& options);
  uint8_t* Locate(const SeqKv& seq, int32_t layer, int32_t pos, bool v);

  KvLayout layout_;
  KvCacheOptions options_;
  uint8_t* arena_ = nullptr;  // 64-byte aligned, freed in the destructor
  std::vector<std::unique_ptr<PagePool>> pools_;
};

// Inline: it runs in the attention inner loop.
inline uint8_t* KvCache::Locate(const SeqKv& seq, int32_t layer, int32_t pos, bool v) {
  const int32_t group = layout_.group_of(layer);
  const int32_t slot = layout_.slot_of(layer);
  const int32_t ps = options_.page_size;
  PARLEY_DCHECK(pos >= 0 && group < static_cast<int32_t>(seq.pages.size()))
      << "layer " << layer << " pos " << pos;
  const std::vector<int32_t>& table = seq.pages[group];
  const size_t index = static_cast<size_t>(pos / ps);
  PARLEY_DCHECK(index < table.size() && table[index] >= 0)
      << "layer " << layer << " pos " << pos << ": page not present";
  PagePool& pool = *pools_[group];
  const int32_t page = table[index];
  return v ? pool.v_row(page, slot, pos % ps) : pool.k_row(page, slot, pos % ps);
}

}  // namespace parley
