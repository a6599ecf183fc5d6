// KvCache: splits one aligned arena between the KV groups' page pools and keeps each
// sequence's block tables in step with the pools' reference counts.
#include "kv/kv_cache.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>

namespace parley {
namespace {

constexpr size_t kAlign = 64;

size_t RoundUp(size_t n, size_t to) { return (n + to - 1) / to * to; }
int64_t CeilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

std::string MiB(int64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f MiB", static_cast<double>(bytes) / (1 << 20));
  return buf;
}

std::string GroupName(const KvLayout& layout, int32_t g) {
  const KvGroup& group = layout.groups()[g];
  const size_t owners = group.owner_layers.size();
  int32_t sharing = 0;
  for (int32_t l = 0; l < layout.num_layers(); ++l) {
    if (layout.group_of(l) == g && !layout.is_owner(l)) ++sharing;
  }
  std::string s = "group " + std::to_string(g) + " (" +
                  (group.window == 0 ? "global" : "window " + std::to_string(group.window)) +
                  ", " + std::to_string(owners) + (owners == 1 ? " layer" : " layers");
  if (sharing > 0) s += " + " + std::to_string(sharing) + " sharing";
  return s + ")";
}

const std::vector<int32_t>& Table(const SeqKv& seq, int32_t group) {
  static const std::vector<int32_t> kEmpty;
  return group < static_cast<int32_t>(seq.pages.size()) ? seq.pages[group] : kEmpty;
}

bool Present(const std::vector<int32_t>& table, int32_t i) {
  return i < static_cast<int32_t>(table.size()) && table[i] >= 0;
}

// How Create splits an arena between groups. A group's weight is the bytes one sequence
// of max_context keeps in it (window groups: window + max_chunk - 1 + page_size
// positions); min_pages is what one such sequence needs; min_arena the smallest arena
// that gives every group its min_pages.
struct SplitPlan {
  std::vector<PagePoolShape> shapes;
  std::vector<int64_t> weights, min_pages;
  int64_t total_weight = 0;
  int64_t min_arena = 0;
};

SplitPlan PlanSplit(const KvLayout& layout, const KvCacheOptions& options) {
  const int32_t n = layout.num_groups();
  const int32_t ps = options.page_size;
  SplitPlan plan;
  plan.shapes.resize(n);
  plan.weights.resize(n);
  plan.min_pages.resize(n);
  const int64_t global_pages = CeilDiv(options.max_context, ps);
  for (int32_t g = 0; g < n; ++g) {
    const KvGroup& group = layout.groups()[g];
    plan.shapes[g] = PagePoolShape{ps, static_cast<int32_t>(group.owner_layers.size()), layout.kv_dim(),
                                   options.dtype, layout.head_dim()};
    // A window group holds, per sequence, the window, the kept slack, one chunk and a page.
    const int64_t window_span = int64_t{group.window} + options.window_keep + options.max_chunk - 1 + ps;
    const int64_t positions = group.window == 0 ? options.max_context : std::min<int64_t>(options.max_context, window_span);
    plan.weights[g] = static_cast<int64_t>(plan.shapes[g].page_bytes() / ps) * positions;
    plan.total_weight += plan.weights[g];
    plan.min_pages[g] =
        group.window == 0
            ? global_pages
            : std::min(CeilDiv(window_span, ps) + 1, global_pages);
  }
  for (int32_t g = 0; g < n; ++g) {
    const __int128 page_bytes = plan.shapes[g].page_bytes();
    const __int128 need =
        (__int128{plan.min_pages[g]} * page_bytes * plan.total_weight + plan.weights[g] - 1) /
        plan.weights[g];
    plan.min_arena = std::max(plan.min_arena, static_cast<int64_t>(need));
  }
  return plan;
}

}  // namespace

KvCache::KvCache(const KvLayout& layout, const KvCacheOptions& options)
    : layout_(layout), options_(options) {}

KvCache::~KvCache() {
  pools_.clear();
  std::free(arena_);
}

StatusOr<std::unique_ptr<KvCache>> KvCache::Create(const KvLayout& layout,
                                                   const KvCacheOptions& options) {
  const int32_t ps = options.page_size;
  if (ps < 1) {
    return Status::InvalidArgument("kv cache: page size must be >= 1 (got " +
                                   std::to_string(ps) + ")");
  }
  if (options.max_context < 1) {
    return Status::InvalidArgument("kv cache: max_context must be >= 1 (got " +
                                   std::to_string(options.max_context) + ")");
  }
  if (options.max_chunk < 1) return Status::InvalidArgument("kv cache: max_chunk must be >= 1");
  if (options.arena_bytes < 1) return Status::InvalidArgument("kv cache: the arena is empty");
  if (layout.num_groups() == 0) return Status::InvalidArgument("kv cache: the layout is empty");

  const int32_t n = layout.num_groups();
  const SplitPlan plan = PlanSplit(layout, options);
  std::vector<int64_t> pages(n);
  int32_t short_group = -1;
  for (int32_t g = 0; g < n; ++g) {
    pages[g] = static_cast<int64_t>(__int128{options.arena_bytes} * plan.weights[g] /
                                    (__int128{plan.total_weight} * plan.shapes[g].page_bytes()));
    if (pages[g] < plan.min_pages[g] && short_group < 0) short_group = g;
  }
  const std::vector<PagePoolShape>& shapes = plan.shapes;
  const std::vector<int64_t>& min_pages = plan.min_pages;
  const int64_t min_arena = plan.min_arena;
  if (short_group >= 0) {
    const int32_t g = short_group;
    return Status::InvalidArgument(
        "kv cache: a " + MiB(options.arena_bytes) + " arena gives " + GroupName(layout, g) + " " +
        std::to_string(pages[g]) + " pages of " + std::to_string(shapes[g].page_bytes()) +
        " bytes, but one sequence of max_context " + std::to_string(options.max_context) +
        " needs " + std::to_string(min_pages[g]) + "; the arena must be at least " +
        std::to_string(CeilDiv(min_arena, 1 << 20)) + " MiB");
  }
  for (int32_t g = 0; g < n; ++g) {
    if (pages[g] > std::numeric_limits<int32_t>::max()) {
      return Status::InvalidArgument("kv cache: " + GroupName(layout, g) + " would get " +
                                     std::to_string(pages[g]) + " pages (more than 2^31)");
    }
  }

  // Pools lie one after another, each starting 64-byte aligned.
  std::vector<size_t> offsets(n);
  size_t end = 0;
  for (int32_t g = 0; g < n; ++g) {
    offsets[g] = RoundUp(end, kAlign);
    end = offsets[g] + static_cast<size_t>(pages[g]) * shapes[g].page_bytes();
  }
  std::unique_ptr<KvCache> cache(new KvCache(layout, options));
  const size_t arena_size = RoundUp(std::max<size_t>(end, 1), kAlign);
  cache->arena_ = static_cast<uint8_t*>(std::aligned_alloc(kAlign, arena_size));
  if (cache->arena_ == nullptr) {
    return Status::Error("kv cache: cannot allocate the " + MiB(arena_size) + " arena");
  }
  for (int32_t g = 0; g < n; ++g) {
    cache->pools_.push_back(std::make_unique<PagePool>(shapes[g], cache->arena_ + offsets[g],
                                                       static_cast<int32_t>(pages[g])));
  }
  return cache;
}

SeqKv KvCache::NewSeq() const {
  SeqKv seq;
  seq.pages.resize(num_groups());
  return seq;
}

int32_t KvCache::PagesNeeded(const SeqKv& seq, int32_t group, int32_t computed,
                             int32_t total) const {
  PARLEY_CHECK(group >= 0 && group < num_groups()) << "group " << group;
  PARLEY_CHECK(computed >= 0 && computed <= total)
      << "computed " << computed << ", total " << total;
  if (computed == total) return 0;
  const int32_t ps = options_.page_size;
  const int32_t window = layout_.groups()[group].window;
  const int32_t start = window == 0 ? 0 : std::max(0, computed - window + 1);
  const std::vector<int32_t>& table = Table(seq, group);
  // Pages wholly inside [start, computed) hold computed positions: a caller that lost one
  // (e.g. Truncate without CanResumeAt) has a bug. Checked in full in debug builds; the
  // first and the last of them always.
  const int32_t first_open = computed / ps;  // the first page with a position >= computed
  if (start / ps < first_open) {
    PARLEY_CHECK(Present(table, start / ps) && Present(table, first_open - 1))
        << "group " << group << ": pages of computed positions [" << start << ", " << computed
        << ") are missing";
#ifndef NDEBUG
    for (int32_t i = start / ps; i < first_open; ++i) PARLEY_CHECK(Present(table, i)) << i;
#endif
  }
  int32_t need = 0;
  for (int32_t i = first_open; i <= (total - 1) / ps; ++i) {
    if (Present(table, i)) continue;
    PARLEY_CHECK(std::max(i * ps, start) >= computed)
        << "group " << group << ": page " << i << " holds computed positions below " << computed
        << " but is missing";
    ++need;
  }
  return need;
}

bool KvCache::Reserve(SeqKv* seq, int32_t computed, int32_t total) {
  if (seq->pages.size() < static_cast<size_t>(num_groups())) seq->pages.resize(num_groups());
  for (int32_t g = 0; g < num_groups(); ++g) {
    if (PagesNeeded(*seq, g, computed, total) > pools_[g]->num_free()) return false;
  }
  if (computed == total) return true;
  const int32_t ps = options_.page_size;
  const int32_t last = (total - 1) / ps;
  for (int32_t g = 0; g < num_groups(); ++g) {
    std::vector<int32_t>& table = seq->pages[g];
    if (static_cast<int32_t>(table.size()) <= last) table.resize(last + 1, -1);
    for (int32_t i = computed / ps; i <= last; ++i) {
      if (table[i] >= 0) continue;
      table[i] = pools_[g]->Allocate();
      PARLEY_CHECK(table[i] >= 0) << "group " << g << " ran out of pages after the check";
    }
  }
  return true;
}

void KvCache::ReleaseOutsideWindow(SeqKv* seq, int32_t computed) {
  const int32_t ps = options_.page_size;
  for (int32_t g = 0; g < num_groups() && g < static_cast<int32_t>(seq->pages.size()); ++g) {
    const int32_t window = layout_.groups()[g].window == 0 ? 0 : layout_.groups()[g].window + options_.window_keep;
    if (window == 0 || computed - window <= 0) continue;
    // Page i ends at (i + 1) * ps - 1 < computed - window  <=>  i < (computed - window) / ps.
    std::vector<int32_t>& table = seq->pages[g];
    const int32_t end = std::min<int32_t>((computed - window) / ps, table.size());
    for (int32_t i = 0; i < end; ++i) {
      if (table[i] < 0) continue;
      pools_[g]->Release(table[i]);
      table[i] = -1;
    }
  }
}

void KvCache::Truncate(SeqKv* seq, int32_t n) {
  PARLEY_CHECK(n >= 0) << n;
  const int32_t keep = static_cast<int32_t>(CeilDiv(n, options_.page_size));
  for (int32_t g = 0; g < num_groups() && g < static_cast<int32_t>(seq->pages.size()); ++g) {
    std::vector<int32_t>& table = seq->pages[g];
    for (int32_t i = keep; i < static_cast<int32_t>(table.size()); ++i) {
      if (table[i] >= 0) pools_[g]->Release(table[i]);
    }
    if (static_cast<int32_t>(table.size()) > keep) table.resize(keep);
  }
}

void KvCache::Free(SeqKv* seq) {
  for (int32_t g = 0; g < num_groups() && g < static_cast<int32_t>(seq->pages.size()); ++g) {
    for (int32_t page : seq->pages[g]) {
      if (page >= 0) pools_[g]->Release(page);
    }
  }
  seq->pages.assign(num_groups(), {});
}

bool KvCache::Fork(const SeqKv& from, int32_t computed, SeqKv* to) {
  PARLEY_CHECK(computed >= 0) << computed;
  for (const std::vector<int32_t>& table : to->pages) {
    for (int32_t page : table) PARLEY_CHECK(page < 0) << "Fork into a sequence that holds pages";
  }
  PARLEY_DCHECK(CanResumeAt(from, computed)) << "Fork at " << computed;
  to->pages.assign(num_groups(), {});
  if (computed == 0) return true;
  const int32_t ps = options_.page_size;
  const int32_t num_pages = (computed - 1) / ps + 1;  // pages holding positions < computed
  // The last of them is partly written unless computed ends a page.
  const int32_t partial = computed % ps != 0 ? num_pages - 1 : -1;
  if (partial >= 0) {
    for (int32_t g = 0; g < num_groups(); ++g) {
      if (Present(Table(from, g), partial) && pools_[g]->num_free() < 1) return false;
    }
  }
  for (int32_t g = 0; g < num_groups(); ++g) {
    const std::vector<int32_t>& src = Table(from, g);
    std::vector<int32_t>& dst = to->pages[g];
    dst.assign(num_pages, -1);
    for (int32_t i = 0; i < num_pages && i < static_cast<int32_t>(src.size()); ++i) {
      if (src[i] < 0) continue;
      PagePool& pool = *pools_[g];
      if (i == partial) {
        dst[i] = pool.Allocate();
        PARLEY_CHECK(dst[i] >= 0) << "group " << g << " ran out of pages after the check";
        std::memcpy(pool.page_data(dst[i]), pool.page_data(src[i]), pool.shape().page_bytes());
      } else {
        pool.AddRef(src[i]);
        dst[i] = src[i];
      }
    }
  }
  return true;
}

bool KvCache::CanResumeAt(const SeqKv& seq, int32_t n) const {
  PARLEY_CHECK(n >= 0) << n;
  if (n == 0) return true;
  const int32_t ps = options_.page_size;
  for (int32_t g = 0; g < num_groups(); ++g) {
    const int32_t window = layout_.groups()[g].window;
    const int32_t from = window == 0 ? 0 : std::max(0, n - window);
    const std::vector<int32_t>& table = Table(seq, g);
    for (int32_t i = from / ps; i <= (n - 1) / ps; ++i) {
      if (!Present(table, i)) return false;
    }
  }
  return true;
}

int64_t KvCache::ArenaBytesFor(const KvLayout& layout, const KvCacheOptions& options,
                               double sequences) {
  if (layout.num_groups() == 0 || options.page_size < 1 || options.max_chunk < 1) return 0;
  return static_cast<int64_t>(std::ceil(PlanSplit(layout, options).min_arena * sequences));
}

int64_t KvCache::BytesForContext(const KvLayout& layout, const KvCacheOptions& options,
                                 int32_t context) {
  if (context <= 0) return 0;
  const int32_t ps = options.page_size;
  int64_t bytes = 0;
  for (const KvGroup& group : layout.groups()) {
    const int32_t from = group.window == 0 ? 0 : std::max(0, context - group.window);
    const int64_t pages = (context - 1) / ps - from / ps + 1;
    const PagePoolShape shape{ps, static_cast<int32_t>(group.owner_layers.size()), layout.kv_dim(),
                              options.dtype, layout.head_dim()};
    bytes += pages * static_cast<int64_t>(shape.page_bytes());
  }
  return bytes;
}

int64_t KvCache::FullCacheBytesForContext(int32_t context, int32_t num_layers) const {
  return int64_t{num_layers} * 2 * layout_.kv_dim() * 4 * context;
}

std::string KvCache::DescribeUsage() const {
  std::string s;
  for (int32_t g = 0; g < num_groups(); ++g) {
    if (g > 0) s += "; ";
    s += GroupName(layout_, g) + ": " + std::to_string(pools_[g]->num_used()) + "/" +
         std::to_string(pools_[g]->num_pages()) + " pages";
  }
  return s;
}

Status KvCache::CheckIntegrity(const std::vector<const SeqKv*>& seqs, bool exact) const {
  for (int32_t g = 0; g < num_groups(); ++g) {
    PARLEY_RETURN_IF_ERROR(
        pools_[g]->CheckIntegrity().WithContext("kv group " + std::to_string(g)));
  }
  std::vector<std::vector<int32_t>> refs(num_groups());
  for (int32_t g = 0; g < num_groups(); ++g) refs[g].assign(pools_[g]->num_pages(), 0);
  for (size_t s = 0; s < seqs.size(); ++s) {
    PARLEY_CHECK(seqs[s] != nullptr) << "seq " << s;
    const SeqKv& seq = *seqs[s];
    if (seq.pages.size() > static_cast<size_t>(num_groups())) {
      return Status::Error("kv cache: seq " + std::to_string(s) + " has " +
                           std::to_string(seq.pages.size()) + " block tables for " +
                           std::to_string(num_groups()) + " groups");
    }
    for (size_t g = 0; g < seq.pages.size(); ++g) {
      for (size_t i = 0; i < seq.pages[g].size(); ++i) {
        const int32_t page = seq.pages[g][i];
        if (page == -1) continue;
        if (page < -1 || page >= pools_[g]->num_pages()) {
          return Status::Error("kv cache: seq " + std::to_string(s) + " group " +
                               std::to_string(g) + " logical page " + std::to_string(i) +
                               " maps to pool page " + std::to_string(page) + ", out of range");
        }
        ++refs[g][page];
      }
    }
  }
  for (int32_t g = 0; g < num_groups(); ++g) {
    for (int32_t p = 0; p < pools_[g]->num_pages(); ++p) {
      const int32_t rc = pools_[g]->refcount(p);
      if (rc < refs[g][p] || (exact && rc != refs[g][p])) {
        return Status::Error("kv cache: group " + std::to_string(g) + " page " +
                             std::to_string(p) + " has refcount " + std::to_string(rc) +
                             " but the block tables reference it " + std::to_string(refs[g][p]) +
                             " times");
      }
    }
  }
  return Status::Ok();
}

}  // namespace parley
