// Tests for KvCache: the arena split, Reserve / release / truncate bookkeeping, row
// addressing through sharing layers, byte accounting, and a randomized run against a
// simple reference model of the block tables.
#include "kv/kv_cache.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <set>

namespace parley {
namespace {

// head_dim 0: one head of kv_dim values.
KvLayout Layout(const std::vector<int32_t>& windows, int32_t kv_dim,
                const std::vector<int32_t>& owners = {}, int32_t head_dim = 0) {
  auto layout = KvLayout::Make(windows, owners, kv_dim, head_dim > 0 ? head_dim : kv_dim);
  PARLEY_CHECK(layout.ok()) << layout.status().message();
  return *layout;
}

// Layers where (l + 1) % 6 != 0 use `window`, the others are global (Gemma 3).
KvLayout Gemma(int32_t layers, int32_t window, int32_t kv_dim, const std::string& sharing = "") {
  std::vector<int32_t> windows(layers);
  for (int32_t l = 0; l < layers; ++l) windows[l] = (l + 1) % 6 != 0 ? window : 0;
  return Layout(windows, kv_dim, ParseKvSharing(sharing, layers).value());
}

StatusOr<std::unique_ptr<KvCache>> TryCache(const KvLayout& layout, int64_t arena, int32_t ps,
                                            int32_t max_context, KvDtype dtype = KvDtype::kF32) {
  KvCacheOptions o;
  o.arena_bytes = arena;
  o.page_size = ps;
  o.max_context = max_context;
  o.dtype = dtype;
  o.max_chunk = 1;  // decode-sized steps: window groups need window + page_size positions
  return KvCache::Create(layout, o);
}

std::unique_ptr<KvCache> Cache(const KvLayout& layout, int64_t arena, int32_t ps,
                               int32_t max_context, KvDtype dtype = KvDtype::kF32) {
  return TryCache(layout, arena, ps, max_context, dtype).value();
}

int32_t Held(const SeqKv& seq, int32_t group) {
  int32_t n = 0;
  for (int32_t p : seq.pages[group]) n += p >= 0;
  return n;
}

void ExpectIntact(const KvCache& cache, const std::vector<const SeqKv*>& seqs) {
  Status st = cache.CheckIntegrity(seqs, /*exact=*/true);
  EXPECT_TRUE(st.ok()) << st.message();
}

TEST(KvCacheTest, SplitsTheArenaByWhatOneSequenceNeeds) {
  // Window group: 5 layers x 528 positions; global group: 1 layer x 4096 positions.
  auto cache = Cache(Gemma(6, 512, 256), 64 << 20, 16, 4096);
  ASSERT_EQ(cache->num_groups(), 2);
  EXPECT_EQ(cache->pool(0).shape().owners, 5);
  EXPECT_EQ(cache->pool(1).shape().owners, 1);
  EXPECT_EQ(cache->pool(0).num_pages(), 160);   // floor(64 MiB * w0 / (w0 + w1) / 160 KiB)
  EXPECT_EQ(cache->pool(1).num_pages(), 1245);  // floor(64 MiB * w1 / (w0 + w1) / 32 KiB)
  // Both hold the same number (~4.85) of max_context sequences.
  EXPECT_NEAR(160.0 / 33, 1245.0 / 256, 0.05);
  EXPECT_LE(160 * 163840 + 1245 * 32768, 64 << 20);
  EXPECT_EQ(cache->DescribeUsage(),
            "group 0 (window 512, 5 layers): 0/160 pages; group 1 (global, 1 layer): 0/1245 pages");
  // A window longer than the context weighs like a global layer: both groups need 16
  // pages per sequence (a window page holds 5 layers) and get as many.
  auto small = Cache(Gemma(6, 512, 256), 8 << 20, 16, 256);
  EXPECT_EQ(small->pool(0).num_pages(), small->pool(1).num_pages());
}

TEST(KvCacheTest, RejectsTooSmallArenaNamingTheMinimum) {
  const KvLayout layout = Gemma(6, 512, 256);
  auto cache = TryCache(layout, 8 << 20, 16, 4096);
  ASSERT_FALSE(cache.ok());
  EXPECT_EQ(cache.status().code(), StatusCode::kInvalidArgument);
  const std::string& msg = cache.status().message();
  EXPECT_NE(msg.find("8.0 MiB arena"), std::string::npos) << msg;
  EXPECT_NE(msg.find("max_context 4096"), std::string::npos) << msg;
  EXPECT_NE(msg.find("at least 14 MiB"), std::string::npos) << msg;
  EXPECT_FALSE(TryCache(layout, 13 << 20, 16, 4096).ok());
  EXPECT_TRUE(TryCache(layout, 14 << 20, 16, 4096).ok());
  EXPECT_EQ(TryCache(layout, 1 << 20, 0, 4096).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(TryCache(layout, 1 << 20, 16, 0).status().code(), StatusCode::kInvalidArgument);
}

TEST(KvCacheTest, PoolsTileTheArenaWithoutOverlap) {
  // 35 window pages of 48 bytes end at 1680: the global pool starts at 1728.
  auto cache = Cache(Layout({4, 0, 4}, 3), 4000, 2, 16, KvDtype::kF16);
  ASSERT_EQ(cache->pool(0).num_pages(), 35);
  EXPECT_EQ(cache->pool(1).k_row(0, 0, 0) - cache->pool(0).k_row(0, 0, 0), 1728);
  std::vector<std::pair<uint8_t*, size_t>> rows;
  for (int32_t g = 0; g < 2; ++g) {
    PagePool& pool = cache->pool(g);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(pool.k_row(0, 0, 0)) % 64, 0u);
    for (int32_t p = 0; p < pool.num_pages(); ++p) {
      for (int32_t s = 0; s < pool.shape().owners; ++s) {
        for (int32_t o = 0; o < 2; ++o) {
          rows.push_back({pool.k_row(p, s, o), rows.size()});
          rows.push_back({pool.v_row(p, s, o), rows.size()});
        }
      }
    }
  }
  for (auto& [row, id] : rows) std::memset(row, static_cast<int>(id % 251), 6);
  for (auto& [row, id] : rows) {
    for (int b = 0; b < 6; ++b) ASSERT_EQ(row[b], id % 251) << "row " << id;
  }
}

TEST(KvCacheTest, PagesNeededAndReserveGrowTheTables) {
  auto cache = Cache(Layout({0, 0}, 4), 1 << 16, 4, 64);
  SeqKv seq = cache->NewSeq();
  ASSERT_EQ(seq.pages.size(), 1u);
  EXPECT_EQ(cache->PagesNeeded(seq, 0, 0, 0), 0);
  EXPECT_EQ(cache->PagesNeeded(seq, 0, 0, 1), 1);
  EXPECT_EQ(cache->PagesNeeded(seq, 0, 0, 4), 1);
  EXPECT_EQ(cache->PagesNeeded(seq, 0, 0, 5), 2);
  ASSERT_TRUE(cache->Reserve(&seq, 0, 5));
  EXPECT_EQ(seq.pages[0].size(), 2u);
  EXPECT_EQ(cache->PagesNeeded(seq, 0, 5, 5), 0);
  EXPECT_EQ(cache->PagesNeeded(seq, 0, 5, 8), 0);
  EXPECT_EQ(cache->PagesNeeded(seq, 0, 5, 9), 1);
  EXPECT_EQ(cache->PagesNeeded(seq, 0, 3, 8), 0);  // reserved but not computed yet
  ASSERT_TRUE(cache->Reserve(&seq, 5, 17));
  EXPECT_EQ(seq.pages[0].size(), 5u);
  EXPECT_EQ(cache->pool(0).num_used(), 5);
  ASSERT_TRUE(cache->Reserve(&seq, 17, 17));  // nothing to do
  ExpectIntact(*cache, {&seq});
  SeqKv empty = cache->NewSeq();
  EXPECT_DEATH(cache->PagesNeeded(empty, 0, 5, 9), "missing");
}

TEST(KvCacheTest, ReserveIsAllOrNothing) {
  auto cache = Cache(Gemma(6, 8, 4), 1 << 14, 4, 16);
  PagePool& window = cache->pool(0);
  PagePool& global = cache->pool(1);
  SeqKv a = cache->NewSeq();
  int32_t c = 0;
  while (global.num_free() > 1) {  // decode `a` until the global pool has one page left
    ASSERT_TRUE(cache->Reserve(&a, c, c + 4));
    c += 4;
    cache->ReleaseOutsideWindow(&a, c);
  }
  const int32_t window_free = window.num_free();
  ASSERT_GE(window_free, 2);
  SeqKv b = cache->NewSeq();
  EXPECT_EQ(cache->PagesNeeded(b, 0, 0, 8), 2);
  EXPECT_EQ(cache->PagesNeeded(b, 1, 0, 8), 2);
  EXPECT_FALSE(cache->Reserve(&b, 0, 8));  // the window group could, the global one cannot
  EXPECT_EQ(window.num_free(), window_free);
  EXPECT_EQ(global.num_free(), 1);
  EXPECT_TRUE(b.pages[0].empty() && b.pages[1].empty());
  ExpectIntact(*cache, {&a, &b});
  EXPECT_TRUE(cache->Reserve(&b, 0, 4));
  EXPECT_EQ(global.num_free(), 0);
  EXPECT_FALSE(cache->Reserve(&a, c, c + 1));
  ExpectIntact(*cache, {&a, &b});
  cache->Free(&a);
  cache->Free(&b);
  EXPECT_EQ(global.num_free(), global.num_pages());
  EXPECT_EQ(window.num_free(), window.num_pages());
  EXPECT_EQ(a.pages.size(), 2u);
  ExpectIntact(*cache, {&a, &b});

  // And the other way round: a window pool short of pages blocks the global one.
  SeqKv big = cache->NewSeq();
  const int32_t w = window.num_pages();
  ASSERT_LT(w, global.num_pages());
  EXPECT_FALSE(cache->Reserve(&big, 0, 4 * (w + 1)));  // computed 0: window needs them all
  EXPECT_EQ(global.num_used(), 0);
  EXPECT_TRUE(cache->Reserve(&big, 0, 4 * w));
  cache->Free(&big);
}

TEST(KvCacheTest, WindowGroupsReleasePagesAsPositionsAdvance) {
  for (auto [w, ps] : {std::pair{8, 4}, {10, 4}, {40, 16}, {512, 16}, {1, 4}}) {
    SCOPED_TRACE("window " + std::to_string(w) + " page " + std::to_string(ps));
    auto cache = Cache(Layout({w, w, 0}, 2), 1 << 20, ps, 3000);
    const int64_t page_bytes[2] = {static_cast<int64_t>(cache->pool(0).shape().page_bytes()),
                                   static_cast<int64_t>(cache->pool(1).shape().page_bytes())};
    const int32_t bound = (w + ps - 1) / ps + 2;
    SeqKv seq = cache->NewSeq();
    std::mt19937 rng(w);
    int32_t c = 0;
    while (c < 3000) {
      const int32_t n = std::min<int32_t>(3000 - c, 1 + rng() % ps);  // decode or a small chunk
      ASSERT_TRUE(cache->Reserve(&seq, c, c + n));
      ASSERT_LE(Held(seq, 0), bound) << "at " << c;
      c += n;
      cache->ReleaseOutsideWindow(&seq, c);
      ASSERT_EQ(Held(seq, 1), (c + ps - 1) / ps);
      ASSERT_TRUE(cache->CanResumeAt(seq, c)) << c;
      ASSERT_EQ(Held(seq, 0) * page_bytes[0] + Held(seq, 1) * page_bytes[1],
                cache->BytesForContext(c)) << c;
    }
    EXPECT_FALSE(cache->CanResumeAt(seq, c - w - ps));
    ExpectIntact(*cache, {&seq});
    cache->Free(&seq);
    EXPECT_EQ(cache->pool(0).num_used() + cache->pool(1).num_used(), 0);
  }
}

TEST(KvCacheTest, TruncateAndCanResumeAt) {
  auto cache = Cache(Layout({8, 0}, 2), 1 << 16, 4, 64);  // window 8, page 4
  SeqKv seq = cache->NewSeq();
  for (int32_t c = 0; c < 40; c += 2) {
    ASSERT_TRUE(cache->Reserve(&seq, c, c + 2));
    cache->ReleaseOutsideWindow(&seq, c + 2);
  }
  // The window group keeps the pages overlapping [32, 40): pages 8 and 9.
  EXPECT_EQ(Held(seq, 0), 2);
  EXPECT_EQ(seq.pages[0][7], -1);
  EXPECT_TRUE(cache->CanResumeAt(seq, 0));
  EXPECT_TRUE(cache->CanResumeAt(seq, 40));
  EXPECT_FALSE(cache->CanResumeAt(seq, 39));  // needs [31, 39): page 7 is gone
  EXPECT_FALSE(cache->CanResumeAt(seq, 36));
  EXPECT_FALSE(cache->CanResumeAt(seq, 33));
  EXPECT_FALSE(cache->CanResumeAt(seq, 41));  // nothing holds position 40 yet

  ASSERT_TRUE(cache->Reserve(&seq, 40, 46));  // pages 10 and 11
  EXPECT_EQ(cache->pool(1).num_used(), 12);
  cache->Truncate(&seq, 42);  // page 10 (40..43) holds 40, 41: kept; page 11 dropped
  EXPECT_EQ(seq.pages[0].size(), 11u);
  EXPECT_EQ(seq.pages[1].size(), 11u);
  EXPECT_EQ(cache->pool(1).num_used(), 11);
  EXPECT_EQ(Held(seq, 0), 3);
  EXPECT_TRUE(cache->CanResumeAt(seq, 42));
  ASSERT_TRUE(cache->Reserve(&seq, 42, 45));
  cache->Truncate(&seq, 41);
  EXPECT_EQ(cache->pool(1).num_used(), 11);
  cache->Truncate(&seq, 40);
  EXPECT_EQ(cache->pool(1).num_used(), 10);
  EXPECT_TRUE(cache->CanResumeAt(seq, 40));
  ExpectIntact(*cache, {&seq});
  cache->Truncate(&seq, 36);  // drops page 9: the window now lacks [28, 36)
  EXPECT_EQ(seq.pages[0].size(), 9u);
  EXPECT_EQ(Held(seq, 0), 1);
  EXPECT_FALSE(cache->CanResumeAt(seq, 36));
  EXPECT_DEATH(cache->Reserve(&seq, 36, 37), "missing");
  cache->Truncate(&seq, 5);  // global pages 0 (0..3) and 1 (4..7) stay
  EXPECT_EQ(seq.pages[1].size(), 2u);
  EXPECT_EQ(cache->pool(1).num_used(), 2);
  EXPECT_EQ(Held(seq, 0), 0);
  EXPECT_TRUE(cache->CanResumeAt(SeqKv{}, 0));
  cache->Free(&seq);
  EXPECT_EQ(seq.pages, (std::vector<std::vector<int32_t>>{{}, {}}));
  EXPECT_EQ(cache->pool(0).num_used() + cache->pool(1).num_used(), 0);
  ExpectIntact(*cache, {&seq});
}

// Writes position `pos` of `seq` with `tag` in every owner layer's K and V row.
void WriteRow(KvCache& cache, const SeqKv& seq, int32_t pos, float tag) {
  for (int32_t l = 0; l < cache.layout().num_layers(); ++l) {
    if (!cache.layout().is_owner(l)) continue;
    const float kv[2] = {tag, static_cast<float>(pos)};
    std::memcpy(cache.k_row(seq, l, pos), kv, sizeof(kv));
    std::memcpy(cache.v_row(seq, l, pos), kv, sizeof(kv));
  }
}

// The tag of position `pos` in layer `layer`, checking K and V agree and hold `pos`.
float ReadRow(KvCache& cache, const SeqKv& seq, int32_t layer, int32_t pos) {
  float k[2], v[2];
  std::memcpy(k, cache.k_row(seq, layer, pos), sizeof(k));
  std::memcpy(v, cache.v_row(seq, layer, pos), sizeof(v));
  EXPECT_EQ(k[1], static_cast<float>(pos));
  EXPECT_EQ(k[0], v[0]);
  return k[0];
}

TEST(KvCacheTest, ForkSharesFullPagesAndCopiesThePartialOne) {
  auto cache = Cache(Layout({0, 0}, 2), 1 << 14, 4, 64);  // one global group, page 4
  PagePool& pool = cache->pool(0);
  SeqKv a = cache->NewSeq();
  ASSERT_TRUE(cache->Reserve(&a, 0, 10));  // pages 0, 1 full; page 2 holds 8, 9
  for (int32_t p = 0; p < 10; ++p) WriteRow(*cache, a, p, 100.0f + p);
  SeqKv b = cache->NewSeq();
  ASSERT_TRUE(cache->Fork(a, 10, &b));
  ASSERT_EQ(b.pages[0].size(), 3u);
  EXPECT_EQ(b.pages[0][0], a.pages[0][0]);
  EXPECT_EQ(b.pages[0][1], a.pages[0][1]);
  EXPECT_NE(b.pages[0][2], a.pages[0][2]);  // the partial page is b's own copy
  EXPECT_EQ(pool.refcount(a.pages[0][0]), 2);
  EXPECT_EQ(pool.refcount(a.pages[0][1]), 2);
  EXPECT_EQ(pool.refcount(a.pages[0][2]), 1);
  EXPECT_EQ(pool.refcount(b.pages[0][2]), 1);
  EXPECT_EQ(pool.num_used(), 4);
  ExpectIntact(*cache, {&a, &b});
  EXPECT_TRUE(cache->CanResumeAt(b, 10));
  for (int32_t p = 0; p < 10; ++p) EXPECT_EQ(ReadRow(*cache, b, 1, p), 100.0f + p) << p;

  // Each continues with its own tokens: position 10 differs, the prompt reads the same.
  ASSERT_TRUE(cache->Reserve(&a, 10, 13));
  ASSERT_TRUE(cache->Reserve(&b, 10, 13));
  for (int32_t p = 10; p < 13; ++p) {
    WriteRow(*cache, a, p, 200.0f + p);
    WriteRow(*cache, b, p, 300.0f + p);
  }
  for (int32_t p = 0; p < 13; ++p) {
    EXPECT_EQ(ReadRow(*cache, a, 0, p), (p < 10 ? 100.0f : 200.0f) + p) << p;
    EXPECT_EQ(ReadRow(*cache, b, 0, p), (p < 10 ? 100.0f : 300.0f) + p) << p;
  }
  ExpectIntact(*cache, {&a, &b});

  // They finish at different times: the shared pages live until the last one goes.
  cache->Free(&a);
  EXPECT_EQ(pool.refcount(b.pages[0][0]), 1);
  ExpectIntact(*cache, {&b});
  for (int32_t p = 0; p < 13; ++p) EXPECT_EQ(ReadRow(*cache, b, 0, p), (p < 10 ? 100.0f : 300.0f) + p);
  cache->Free(&b);
  EXPECT_EQ(pool.num_used(), 0);
  ExpectIntact(*cache, {&a, &b});
}

TEST(KvCacheTest, ForkAtAPageBoundaryCopiesNothing) {
  auto cache = Cache(Layout({0}, 2), 1 << 14, 4, 64);
  SeqKv a = cache->NewSeq();
  ASSERT_TRUE(cache->Reserve(&a, 0, 8));
  std::vector<SeqKv> forks(3, cache->NewSeq());
  for (SeqKv& f : forks) {
    ASSERT_TRUE(cache->Fork(a, 8, &f));
    EXPECT_EQ(f.pages, a.pages);
  }
  EXPECT_EQ(cache->pool(0).num_used(), 2);
  EXPECT_EQ(cache->pool(0).refcount(a.pages[0][0]), 4);
  // A fork at 0 takes nothing; pages past the fork point are not taken either.
  SeqKv empty = cache->NewSeq();
  ASSERT_TRUE(cache->Fork(a, 0, &empty));
  EXPECT_TRUE(empty.pages[0].empty());
  SeqKv early = cache->NewSeq();
  ASSERT_TRUE(cache->Fork(a, 3, &early));  // page 0 holds 0..2 of it: copied; page 1 not taken
  ASSERT_EQ(early.pages[0].size(), 1u);
  EXPECT_NE(early.pages[0][0], a.pages[0][0]);
  ExpectIntact(*cache, {&a, &forks[0], &forks[1], &forks[2], &empty, &early});
  // Into a sequence that already holds pages: a bug.
  EXPECT_DEATH(cache->Fork(a, 8, &forks[0]), "holds pages");
  for (SeqKv& f : forks) cache->Free(&f);
  cache->Free(&early);
  cache->Free(&a);
  EXPECT_EQ(cache->pool(0).num_used(), 0);
}

TEST(KvCacheTest, ForkKeepsWindowGroupsReleasedPagesOut) {
  // Window 8 (layers 0, 1 with layer 1 sharing layer 0's K/V) and a global layer; page 4.
  auto cache = Cache(Layout({8, 8, 0}, 2, {0, 0, 2}), 1 << 16, 4, 64);
  ASSERT_EQ(cache->num_groups(), 2);
  SeqKv a = cache->NewSeq();
  for (int32_t c = 0; c < 22; c += 2) {
    ASSERT_TRUE(cache->Reserve(&a, c, c + 2));
    WriteRow(*cache, a, c, 1000.0f + c);
    WriteRow(*cache, a, c + 1, 1001.0f + c);
    cache->ReleaseOutsideWindow(&a, c + 2);
  }
  // At 22 the window group keeps the pages overlapping [14, 22): 3, 4, 5 (5 holds 20, 21).
  ASSERT_EQ(a.pages[0][2], -1);
  ASSERT_GE(a.pages[0][3], 0);
  SeqKv b = cache->NewSeq();
  ASSERT_TRUE(cache->Fork(a, 22, &b));
  for (int32_t i = 0; i < 6; ++i) {
    EXPECT_EQ(b.pages[0][i] >= 0, a.pages[0][i] >= 0) << i;
    EXPECT_EQ(b.pages[1][i] >= 0, true) << i;
    if (i < 5) {
      EXPECT_EQ(b.pages[0][i], a.pages[0][i]) << i;
      EXPECT_EQ(b.pages[1][i], a.pages[1][i]) << i;
    }
  }
  EXPECT_NE(b.pages[0][5], a.pages[0][5]);  // the partial page of each group is copied
  EXPECT_NE(b.pages[1][5], a.pages[1][5]);
  EXPECT_EQ(cache->pool(0).refcount(a.pages[0][3]), 2);
  EXPECT_TRUE(cache->CanResumeAt(b, 22));
  for (int32_t p = 14; p < 22; ++p) EXPECT_EQ(ReadRow(*cache, b, 1, p), 1000.0f + p) << p;
  for (int32_t p = 0; p < 22; ++p) EXPECT_EQ(ReadRow(*cache, b, 2, p), 1000.0f + p) << p;
  ExpectIntact(*cache, {&a, &b});

  // Both decode on; the window group releases shared pages once per holder.
  for (int32_t c = 22; c < 40; ++c) {
    for (SeqKv* s : {&a, &b}) {
      ASSERT_TRUE(cache->Reserve(s, c, c + 1));
      WriteRow(*cache, *s, c, (s == &a ? 2000.0f : 3000.0f) + c);
      cache->ReleaseOutsideWindow(s, c + 1);
    }
    ExpectIntact(*cache, {&a, &b});
  }
  for (int32_t p = 32; p < 40; ++p) {
    EXPECT_EQ(ReadRow(*cache, a, 0, p), 2000.0f + p);
    EXPECT_EQ(ReadRow(*cache, b, 0, p), 3000.0f + p);
  }
  EXPECT_EQ(ReadRow(*cache, b, 2, 21), 1021.0f);
  cache->Free(&b);
  ExpectIntact(*cache, {&a});
  cache->Free(&a);
  EXPECT_EQ(cache->pool(0).num_used() + cache->pool(1).num_used(), 0);
}

TEST(KvCacheTest, ForkIsAllOrNothing) {
  auto cache = Cache(Layout({8, 0}, 2), 1 << 12, 4, 16);
  PagePool& window = cache->pool(0);
  PagePool& global = cache->pool(1);
  SeqKv a = cache->NewSeq();
  ASSERT_TRUE(cache->Reserve(&a, 0, 6));
  std::vector<int32_t> filler;  // take every free global page
  while (global.num_free() > 0) filler.push_back(global.Allocate());
  ASSERT_GT(window.num_free(), 0);
  const int32_t window_free = window.num_free();
  SeqKv b = cache->NewSeq();
  EXPECT_FALSE(cache->Fork(a, 6, &b));  // the global group has no page for the copy
  EXPECT_EQ(window.num_free(), window_free);
  EXPECT_EQ(global.refcount(a.pages[1][0]), 1);
  for (const auto& table : b.pages) EXPECT_TRUE(table.empty());
  EXPECT_TRUE(cache->Fork(a, 4, &b));  // at a page boundary no copy is needed
  EXPECT_EQ(global.refcount(a.pages[1][0]), 2);
  for (int32_t page : filler) global.Release(page);
  ExpectIntact(*cache, {&a, &b});
  cache->Free(&a);
  cache->Free(&b);
  ExpectIntact(*cache, {});
}

TEST(KvCacheTest, RowsResolveSharingLayersToTheirOwners) {
  auto cache = Cache(Gemma(6, 8, 4, "1:0,3:2"), 1 << 16, 4, 32);
  SeqKv seq = cache->NewSeq();
  ASSERT_TRUE(cache->Reserve(&seq, 0, 20));
  EXPECT_EQ(cache->k_row(seq, 1, 13), cache->k_row(seq, 0, 13));
  EXPECT_EQ(cache->v_row(seq, 3, 2), cache->v_row(seq, 2, 2));
  const std::vector<int32_t> owners = {0, 2, 4, 5};
  auto value = [](int32_t layer, int32_t pos, int kv, int e) {
    return static_cast<float>(layer * 10000 + pos * 10 + kv * 5 + e);
  };
  for (int32_t l : owners) {
    for (int32_t pos = 0; pos < 20; ++pos) {
      float* k = reinterpret_cast<float*>(cache->k_row(seq, l, pos));
      float* v = reinterpret_cast<float*>(cache->v_row(seq, l, pos));
      for (int e = 0; e < 4; ++e) {
        k[e] = value(l, pos, 0, e);
        v[e] = value(l, pos, 1, e);
      }
    }
  }
  for (int32_t l = 0; l < 6; ++l) {
    const int32_t owner = cache->layout().owner(l);
    for (int32_t pos = 0; pos < 20; ++pos) {
      const float* k = reinterpret_cast<const float*>(cache->k_row(seq, l, pos));
      const float* v = reinterpret_cast<const float*>(cache->v_row(seq, l, pos));
      for (int e = 0; e < 4; ++e) {
        ASSERT_EQ(k[e], value(owner, pos, 0, e)) << l << " " << pos;
        ASSERT_EQ(v[e], value(owner, pos, 1, e)) << l << " " << pos;
      }
    }
  }
  EXPECT_EQ(cache->DescribeUsage(),
            "group 0 (window 8, 3 layers + 2 sharing): 5/" +
                std::to_string(cache->pool(0).num_pages()) +
                " pages; group 1 (global, 1 layer): 5/" +
                std::to_string(cache->pool(1).num_pages()) + " pages");
  cache->Free(&seq);
}

TEST(KvCacheTest, BytesForContextOfAGemma3_270MLikeModel) {
  const KvLayout layout = Gemma(18, 512, 256);  // 15 window layers, 3 global
  for (KvDtype dtype : {KvDtype::kF32, KvDtype::kF16, KvDtype::kI8}) {
    auto cache = Cache(layout, 1 << 20, 16, 16, dtype);
    const int64_t row_bytes = static_cast<int64_t>(KvRowBytes(dtype, 256, 256));  // 1024, 512, 272
    const int64_t row = 2 * row_bytes;  // K and V of one layer and position
    // Multiples of the page size: exactly global_layers * L + window_layers * W positions.
    EXPECT_EQ(cache->BytesForContext(4096), (3 * 4096 + 15 * 512) * row);
    EXPECT_EQ(cache->BytesForContext(512), 18 * 512 * row);
    EXPECT_EQ(cache->BytesForContext(100), 18 * 7 * 16 * row);  // 7 pages each
    // L = 527: the window is [15, 527), pages 0..32; the global group holds 33 pages too.
    EXPECT_EQ(cache->BytesForContext(527), 18 * 33 * 16 * row);
    // L = 530: window [18, 530) -> pages 1..33 (33), global 34 pages.
    EXPECT_EQ(cache->BytesForContext(530), (15 * 33 + 3 * 34) * 16 * row);
    EXPECT_EQ(cache->BytesForContext(1), 18 * 16 * row);
    EXPECT_EQ(cache->BytesForContext(0), 0);
    EXPECT_EQ(cache->FullCacheBytesForContext(4096, 18), 18LL * 2 * 256 * 4 * 4096);
    const double ratio = static_cast<double>(cache->BytesForContext(32768)) /
                         cache->FullCacheBytesForContext(32768, 18);
    EXPECT_NEAR(ratio, (3 * 32768 + 15 * 512) * row_bytes / (18.0 * 32768 * 1024), 1e-9);
  }
}

// An int8 cache keeps head_dim int8 values and a 2-byte scale per 32 of them: the same
// arena holds 1024 / 272 = 3.76x the positions of f32 for Gemma 3's one KV head of 256,
// and 768 / 204 = 3.76x for SmolLM2's three heads of 64.
TEST(KvCacheTest, Int8HoldsAboutFourTimesTheTokensOfF32) {
  struct Case {
    KvLayout layout;
    double ratio;
  };
  for (const Case& c : {Case{Gemma(18, 512, 256), 1024.0 / 272}, Case{Layout({0, 0}, 192, {}, 64), 768.0 / 204}}) {
    auto f32 = Cache(c.layout, 64 << 20, 16, 1024, KvDtype::kF32);
    auto i8 = Cache(c.layout, 64 << 20, 16, 1024, KvDtype::kI8);
    for (int32_t g = 0; g < f32->num_groups(); ++g) {  // within 1%: pools hold whole pages
      const double ratio = static_cast<double>(i8->pool(g).num_pages()) / f32->pool(g).num_pages();
      EXPECT_NEAR(ratio, c.ratio, c.ratio * 0.01);
    }
    EXPECT_NEAR(static_cast<double>(f32->BytesForContext(1000)) / i8->BytesForContext(1000), c.ratio, 1e-9);
  }
}

TEST(KvCacheTest, CheckIntegrityFindsMismatches) {
  auto cache = Cache(Layout({4, 0}, 2), 1 << 14, 2, 16);
  SeqKv seq = cache->NewSeq();
  ASSERT_TRUE(cache->Reserve(&seq, 0, 6));
  ExpectIntact(*cache, {&seq});
  const int32_t page = seq.pages[1][0];
  cache->pool(1).AddRef(page);  // e.g. a prefix cache's reference
  EXPECT_TRUE(cache->CheckIntegrity({&seq}, /*exact=*/false).ok());
  Status st = cache->CheckIntegrity({&seq}, /*exact=*/true);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("group 1 page " + std::to_string(page) + " has refcount 2"),
            std::string::npos) << st.message();
  cache->pool(1).Release(page);
  SeqKv copy = seq;  // two tables naming the same pages, one reference each
  EXPECT_FALSE(cache->CheckIntegrity({&seq, &copy}, /*exact=*/false).ok());
  copy.pages[0][1] = cache->pool(0).num_pages();
  st = cache->CheckIntegrity({&copy}, /*exact=*/false);
  EXPECT_NE(st.message().find("out of range"), std::string::npos) << st.message();
  EXPECT_FALSE(cache->CheckIntegrity({}, /*exact=*/true).ok());  // used pages, no owner
  cache->Free(&seq);
  ExpectIntact(*cache, {});
}

// Several sequences reserve, advance, release, rewind and free at random; a reference
// model of which logical pages each holds predicts every Reserve and CanResumeAt, and the
// K/V each wrote must read back intact.
TEST(KvCacheTest, RandomizedAgainstAReference) {
  constexpr int32_t kSeqs = 4, kWindow = 6, kPs = 4, kCtx = 64;
  // Layer 3 shares layer 2's KV. 8 window pages and 55 global ones: often short.
  const KvLayout shared = Layout({kWindow, 0, kWindow, kWindow, 0}, 2, {0, 1, 2, 2, 4});
  auto cache = Cache(shared, 8192, kPs, kCtx);
  const KvLayout& layout = cache->layout();
  struct Ref {
    int32_t c = 0;                // computed positions
    std::set<int32_t> held[2];    // logical pages per group
    std::vector<uint32_t> stamp;  // per computed position: which write it holds
  };
  std::vector<SeqKv> seqs(kSeqs, cache->NewSeq());
  std::vector<Ref> ref(kSeqs);
  auto value = [](int32_t s, int32_t layer, int32_t pos, uint32_t stamp, int kv) {
    return (stamp * 2654435761u) ^ (s << 24) ^ (layer << 16) ^ (pos << 4) ^ kv;
  };
  auto row = [&](int32_t s, int32_t layer, int32_t pos, int kv) {
    uint8_t* r = kv ? cache->v_row(seqs[s], layer, pos) : cache->k_row(seqs[s], layer, pos);
    return reinterpret_cast<uint32_t*>(r);
  };
  auto used = [&](int32_t g) {
    int32_t n = 0;
    for (const Ref& r : ref) n += static_cast<int32_t>(r.held[g].size());
    return n;
  };
  auto can_resume = [&](const Ref& r, int32_t n) {
    for (int32_t g = 0; g < 2 && n > 0; ++g) {
      for (int32_t i = (g == 0 ? std::max(0, n - kWindow) : 0) / kPs; i <= (n - 1) / kPs; ++i) {
        if (!r.held[g].count(i)) return false;
      }
    }
    return true;
  };
  auto free_seq = [&](int32_t s) {
    cache->Free(&seqs[s]);
    ref[s] = Ref();
  };
  std::mt19937 rng(1234);
  uint32_t next_stamp = 0;
  int reserved = 0, refused = 0;
  for (int step = 0; step < 4000; ++step) {
    const int32_t s = rng() % kSeqs;
    Ref& r = ref[s];
    const int op = rng() % 10;
    if (op < 6) {
      const int32_t total = std::min<int32_t>(kCtx, r.c + 1 + rng() % 12);
      if (total == r.c) {
        free_seq(s);
        continue;
      }
      bool fits = true;
      for (int32_t g = 0; g < 2; ++g) {
        int32_t need = 0;
        const int32_t start = g == 0 ? std::max(0, r.c - kWindow + 1) : 0;
        for (int32_t i = start / kPs; i <= (total - 1) / kPs; ++i) need += !r.held[g].count(i);
        EXPECT_EQ(cache->PagesNeeded(seqs[s], g, r.c, total), need);
        fits = fits && need <= cache->pool(g).num_pages() - used(g);
      }
      ASSERT_EQ(cache->Reserve(&seqs[s], r.c, total), fits) << "step " << step;
      ++(fits ? reserved : refused);
      if (fits) {
        for (int32_t g = 0; g < 2; ++g) {
          for (int32_t i = r.c / kPs; i <= (total - 1) / kPs; ++i) r.held[g].insert(i);
        }
        const int32_t c = r.c + 1 + rng() % (total - r.c);  // the batch may stop early
        for (int32_t pos = r.c; pos < c; ++pos) {
          r.stamp.push_back(++next_stamp);
          for (int32_t layer : {0, 1, 2, 4}) {
            for (int kv = 0; kv < 2; ++kv) {
              row(s, layer, pos, kv)[1] = value(s, layer, pos, next_stamp, kv);
            }
          }
        }
        r.c = c;
      }
    }
    if (op < 5 || op == 6) {
      cache->ReleaseOutsideWindow(&seqs[s], r.c);
      std::erase_if(r.held[0], [&](int32_t i) { return (i + 1) * kPs <= r.c - kWindow; });
    } else if (op == 7 || op == 8) {
      const int32_t n = rng() % (r.c + 1);
      const bool can = can_resume(r, n);
      ASSERT_EQ(cache->CanResumeAt(seqs[s], n), can) << "step " << step;
      cache->Truncate(&seqs[s], n);
      for (auto& held : r.held) std::erase_if(held, [&](int32_t i) { return i * kPs >= n; });
      r.c = n;
      r.stamp.resize(n);
      if (!can) free_seq(s);
    } else if (op == 9) {
      free_seq(s);
    }
    // The tables, the pools and the data agree with the reference.
    std::vector<const SeqKv*> all;
    for (const SeqKv& q : seqs) all.push_back(&q);
    Status st = cache->CheckIntegrity(all, /*exact=*/true);
    ASSERT_TRUE(st.ok()) << "step " << step << ": " << st.message();
    for (int32_t g = 0; g < 2; ++g) ASSERT_EQ(cache->pool(g).num_used(), used(g));
    for (int32_t q = 0; q < kSeqs; ++q) {
      for (int32_t g = 0; g < 2; ++g) {
        std::set<int32_t> present;
        for (size_t i = 0; i < seqs[q].pages[g].size(); ++i) {
          if (seqs[q].pages[g][i] >= 0) present.insert(static_cast<int32_t>(i));
        }
        ASSERT_EQ(present, ref[q].held[g]) << "step " << step << " seq " << q << " group " << g;
      }
      for (int32_t layer = 0; layer < 5; ++layer) {
        const int32_t from = layout.window(layer) == 0 ? 0 : std::max(0, ref[q].c - kWindow + 1);
        for (int32_t pos = from; pos < ref[q].c; ++pos) {
          for (int kv = 0; kv < 2; ++kv) {
            ASSERT_EQ(row(q, layer, pos, kv)[1],
                      value(q, layout.owner(layer), pos, ref[q].stamp[pos], kv))
                << "step " << step << " seq " << q << " layer " << layer << " pos " << pos;
          }
        }
      }
    }
  }
  EXPECT_GT(reserved, 500);
  EXPECT_GT(refused, 50);
  for (int32_t s = 0; s < kSeqs; ++s) free_seq(s);
  for (int32_t g = 0; g < 2; ++g) EXPECT_EQ(cache->pool(g).num_free(), cache->pool(g).num_pages());
  ExpectIntact(*cache, {});
}

}  // namespace
}  // namespace parley
