// Tests for KvManager on a global-only layout, page size 4: one-call admission that commits
// or changes nothing, reservations that evict cache-only pages before saying no room, Free
// with and without caching, LRU eviction order, and the integrity check.
#include "prefix_cache/kv_manager.h"

#include <gtest/gtest.h>

#include <memory>
#include <numeric>

namespace parley {
namespace {

constexpr int32_t kPs = 4;

std::unique_ptr<KvCache> MakeKv(double sequences, int32_t max_context = 32) {
  const KvLayout layout = *KvLayout::Make({0, 0}, {}, 2, 2);
  KvCacheOptions o;
  o.page_size = kPs;
  o.max_context = max_context;
  o.max_chunk = 8;
  o.arena_bytes = KvCache::ArenaBytesFor(layout, o, sequences);
  return std::move(KvCache::Create(layout, o).value());
}

std::vector<int32_t> Tokens(int32_t n, int32_t first) {
  std::vector<int32_t> t(n);
  std::iota(t.begin(), t.end(), first);
  return t;
}

KvManager::AdmitRequest Request(const std::vector<int32_t>& tokens, int32_t watermark = 0) {
  KvManager::AdmitRequest r;
  r.tokens = tokens;
  r.chunk = [n = static_cast<int32_t>(tokens.size())](int32_t computed) { return n - computed; };
  r.watermark = watermark;
  return r;
}

// Admits and finishes `tokens` as one whole sequence, offering its pages to the cache.
void RunToCache(KvManager* m, const std::vector<int32_t>& tokens) {
  KvHandle seq;
  KvManager::Admission a;
  ASSERT_TRUE(m->Admit(Request(tokens), &seq, &a));
  const int32_t n = static_cast<int32_t>(tokens.size());
  m->Free(&seq, tokens, n, n, /*cache_pages=*/true);
}

TEST(KvManagerTest, TheComputedPrefixQueryHasNoSideEffects) {
  auto kv = MakeKv(2);
  PrefixCache cache(kv.get(), {});
  KvManager m(kv.get(), &cache);
  const std::vector<int32_t> a = Tokens(17, 1);
  RunToCache(&m, a);
  const PrefixCacheStats before = cache.stats();
  const int32_t free0 = kv->pool(0).num_free();
  EXPECT_EQ(m.ComputedPrefix(a, 16), 16);
  EXPECT_EQ(m.ComputedPrefix(a, 16), 16);
  EXPECT_EQ(cache.stats().lookups, before.lookups);
  EXPECT_EQ(kv->pool(0).num_free(), free0);
  EXPECT_TRUE(m.CheckIntegrity({}).ok());
}

TEST(KvManagerTest, ADisabledCacheNeverMatchesNorStores) {
  auto kv = MakeKv(2);
  KvManager m(kv.get(), nullptr);
  EXPECT_FALSE(m.caching());
  const std::vector<int32_t> a = Tokens(17, 1);
  RunToCache(&m, a);
  EXPECT_EQ(m.ComputedPrefix(a, 16), 0);
  KvHandle seq;
  KvManager::Admission adm;
  ASSERT_TRUE(m.Admit(Request(a), &seq, &adm));
  EXPECT_EQ(adm.computed, 0);
  EXPECT_TRUE(m.CheckIntegrity({&seq}).ok());
  m.Free(&seq, a, 17, 17, true);
  EXPECT_TRUE(m.CheckIntegrity({}).ok());
}

TEST(KvManagerTest, AdmissionResumesAndCountsTheLookupOnlyWhenItCommits) {
  auto kv = MakeKv(1.5);  // 12 pages per group
  PrefixCache cache(kv.get(), {});
  KvManager m(kv.get(), &cache);
  const std::vector<int32_t> a = Tokens(9, 1);
  RunToCache(&m, a);
  const int64_t lookups = cache.stats().lookups;
  // A longer turn that cannot fit even after eviction (a live sequence holds the rest).
  KvHandle hog;
  ASSERT_TRUE(m.Reserve(&hog, 0, 8 * kPs));
  std::vector<int32_t> b = a;
  for (int i = 0; i < 20; ++i) b.push_back(100 + i);
  const int32_t free0 = kv->pool(0).num_free();
  KvHandle seq;
  KvManager::Admission adm;
  EXPECT_FALSE(m.Admit(Request(b), &seq, &adm));
  EXPECT_EQ(cache.stats().lookups, lookups);  // refused: nothing counted
  EXPECT_EQ(kv->pool(0).num_free(), free0);
  EXPECT_TRUE(m.CheckIntegrity({&hog, &seq}).ok());
  m.Free(&hog, {}, 0, 0, /*cache_pages=*/false);
  ASSERT_TRUE(m.Admit(Request(b), &seq, &adm));
  EXPECT_EQ(adm.computed, 8);
  EXPECT_EQ(adm.num_new, static_cast<int32_t>(b.size()) - 8);
  EXPECT_EQ(cache.stats().lookups, lookups + 1);
  EXPECT_EQ(cache.stats().hits, 1);
  EXPECT_TRUE(m.CheckIntegrity({&seq}).ok());
  m.Free(&seq, b, 0, 0, /*cache_pages=*/false);
  EXPECT_TRUE(m.CheckIntegrity({}).ok());
}

TEST(KvManagerTest, ReserveEvictsCacheOnlyPagesBeforeSayingNoRoom) {
  auto kv = MakeKv(1);  // 8 pages per group
  PrefixCache cache(kv.get(), {});
  KvManager m(kv.get(), &cache);
  RunToCache(&m, Tokens(25, 1));  // 6 full pages cached
  EXPECT_LT(kv->pool(0).num_free(), 8);
  KvHandle seq;
  ASSERT_TRUE(m.Reserve(&seq, 0, 8 * kPs));  // needs the whole pool: the cache gives way
  EXPECT_EQ(kv->pool(0).num_free(), 0);
  EXPECT_EQ(cache.stats().evicted_pages, 6);  // the 6 cached pages (both layers share one group)
  KvHandle other;
  EXPECT_FALSE(m.Reserve(&other, 0, kPs));  // only preemption would help now
  EXPECT_TRUE(m.CheckIntegrity({&seq, &other}).ok());
  m.Free(&seq, {}, 0, 0, false);
  m.Free(&other, {}, 0, 0, /*cache_pages=*/false);
}

TEST(KvManagerTest, FreeWithAndWithoutCaching) {
  auto kv = MakeKv(2);
  PrefixCache cache(kv.get(), {});
  KvManager m(kv.get(), &cache);
  const std::vector<int32_t> a = Tokens(13, 1), b = Tokens(13, 50);
  for (const auto* t : {&a, &b}) {
    KvHandle seq;
    KvManager::Admission adm;
    ASSERT_TRUE(m.Admit(Request(*t), &seq, &adm));
    m.Free(&seq, *t, 13, 13, /*cache_pages=*/t == &a);
  }
  EXPECT_EQ(m.ComputedPrefix(a, 12), 12);
  EXPECT_EQ(m.ComputedPrefix(b, 12), 0);
  EXPECT_TRUE(m.CheckIntegrity({}).ok());
}

TEST(KvManagerTest, EvictionTakesTheLeastRecentlyUsedFirst) {
  auto kv = MakeKv(1.5);  // 12 pages per group
  PrefixCache cache(kv.get(), {});
  KvManager m(kv.get(), &cache);
  const std::vector<int32_t> a = Tokens(9, 1), b = Tokens(9, 100), c = Tokens(9, 200);
  RunToCache(&m, a);
  RunToCache(&m, b);
  RunToCache(&m, c);
  EXPECT_EQ(m.ComputedPrefix(a, 8), 8);
  // Touch a (a committed lookup): b is now the oldest.
  KvHandle seq;
  KvManager::Admission adm;
  ASSERT_TRUE(m.Admit(Request(a), &seq, &adm));
  m.Free(&seq, a, 9, 9, true);
  // 6 of 12 pages are free; room for 8: two cached pages must go, both b's.
  KvHandle big;
  ASSERT_TRUE(m.Reserve(&big, 0, 8 * kPs));
  EXPECT_EQ(m.ComputedPrefix(b, 8), 0);
  EXPECT_EQ(m.ComputedPrefix(a, 8), 8);
  EXPECT_EQ(m.ComputedPrefix(c, 8), 8);
  EXPECT_TRUE(m.CheckIntegrity({&big}).ok());
  m.Free(&big, {}, 0, 0, /*cache_pages=*/false);
}

TEST(KvManagerTest, ForkSharesPagesAndIntegrityCatchesAStrayPage) {
  auto kv = MakeKv(2);
  PrefixCache cache(kv.get(), {});
  KvManager m(kv.get(), &cache);
  const std::vector<int32_t> a = Tokens(10, 1);
  KvHandle seq;
  KvManager::Admission adm;
  ASSERT_TRUE(m.Admit(Request(a), &seq, &adm));
  KvHandle child;
  ASSERT_TRUE(m.Fork(seq, 10, &child));
  EXPECT_TRUE(m.CheckIntegrity({&seq, &child}).ok());
  EXPECT_FALSE(m.CheckIntegrity({&seq}).ok());  // the child's pages are unaccounted for
  m.Free(&child, a, 10, 10, false);
  m.Free(&seq, a, 10, 10, true);
  EXPECT_TRUE(m.CheckIntegrity({}).ok());
}

TEST(KvManagerTest, AHandleHoldsPagesFromAdmissionToFree) {
  auto kv = MakeKv(2);
  KvManager m(kv.get(), nullptr);
  const std::vector<int32_t> a = Tokens(10, 1);
  KvHandle seq;
  EXPECT_FALSE(seq.holds_pages());
  EXPECT_TRUE(m.CanResumeAt(seq, 0));
  EXPECT_FALSE(m.CanResumeAt(seq, 1));
  m.Free(&seq, a, 0, 0, /*cache_pages=*/true);  // never admitted: nothing to free
  KvManager::Admission adm;
  ASSERT_TRUE(m.Admit(Request(a), &seq, &adm));
  EXPECT_TRUE(seq.holds_pages());
  EXPECT_EQ(m.Table(seq).pages.size(), static_cast<size_t>(kv->num_groups()));
  KvHandle moved = std::move(seq);
  EXPECT_TRUE(m.CheckIntegrity({&moved}).ok());
  m.Free(&moved, a, 10, 10, /*cache_pages=*/false);
  EXPECT_FALSE(moved.holds_pages());
  EXPECT_TRUE(m.CheckIntegrity({}).ok());
}

}  // namespace
}  // namespace parley
