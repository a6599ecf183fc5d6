// Tests for PrefixCache on a small hybrid layout (layer 0: window 16, layer 1: global),
// page size 4. "Computing" a position writes K/V rows that are a function of the whole
// token prefix up to it, so a resumed sequence can check that every page it got holds
// exactly what recomputing would have written.
#include "prefix_cache/prefix_cache.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <random>
#include <set>

#include "base/testing/faulty_env.h"
#include "prefix_cache/page_hash.h"

namespace parley {
namespace {

constexpr int32_t kPs = 4;
constexpr int32_t kWindow = 16;
constexpr int32_t kDim = 2;
constexpr int32_t kMaxContext = 64;

KvLayout Hybrid() { return *KvLayout::Make({kWindow, 0}, {}, kDim, kDim); }
KvLayout GlobalOnly() { return *KvLayout::Make({0, 0}, {}, kDim, kDim); }

std::unique_ptr<KvCache> MakeKv(const KvLayout& layout, double sequences, int32_t window_keep = 2 * kPs) {
  KvCacheOptions o;
  o.page_size = kPs;
  o.max_context = kMaxContext;
  o.max_chunk = 8;
  o.window_keep = window_keep;
  o.arena_bytes = KvCache::ArenaBytesFor(layout, o, sequences);
  return std::move(KvCache::Create(layout, o).value());
}

// The value K/V rows at `pos` hold for these tokens: a hash of tokens [0, pos].
float Expected(const std::vector<int32_t>& tokens, int32_t pos, int32_t layer, int32_t which) {
  uint64_t h = ChainPageKey(kPageKeySeed + layer * 7 + which, std::span<const int32_t>(tokens.data(), pos + 1));
  return static_cast<float>(h % 1000003) + 0.25f * which;
}

// Reserves and writes positions [from, to), then lets the window move, as a sequence would.
bool Compute(KvCache* kv, PrefixCache* cache, SeqKv* seq, const std::vector<int32_t>& tokens, int32_t from,
             int32_t to) {
  if (!kv->Reserve(seq, from, to)) {
    std::vector<int32_t> need(kv->num_groups());
    for (int32_t g = 0; g < kv->num_groups(); ++g) need[g] = kv->PagesNeeded(*seq, g, from, to);
    if (cache == nullptr || !cache->MakeRoom(need) || !kv->Reserve(seq, from, to)) return false;
  }
  for (int32_t pos = from; pos < to; ++pos) {
    for (int32_t layer = 0; layer < 2; ++layer) {
      float k[kDim] = {Expected(tokens, pos, layer, 0), 1.0f};
      float v[kDim] = {Expected(tokens, pos, layer, 1), 2.0f};
      std::memcpy(kv->k_row(*seq, layer, pos), k, sizeof(k));
      std::memcpy(kv->v_row(*seq, layer, pos), v, sizeof(v));
    }
  }
  kv->ReleaseOutsideWindow(seq, to);
  return true;
}

// Every row a resume at n needs holds what the tokens imply (exactly, or within `tol`).
void ExpectRows(KvCache* kv, const SeqKv& seq, const std::vector<int32_t>& tokens, int32_t n, float tol = 0) {
  ASSERT_TRUE(kv->CanResumeAt(seq, n)) << n;
  for (int32_t layer = 0; layer < 2; ++layer) {
    const int32_t window = kv->layout().window(layer);
    for (int32_t pos = window == 0 ? 0 : std::max(0, n - window); pos < n; ++pos) {
      const float* k = reinterpret_cast<const float*>(kv->k_row(seq, layer, pos));
      const float* v = reinterpret_cast<const float*>(kv->v_row(seq, layer, pos));
      ASSERT_NEAR(k[0], Expected(tokens, pos, layer, 0), tol * 1e6f + 0.0f) << "layer " << layer << " pos " << pos;
      ASSERT_NEAR(v[0], Expected(tokens, pos, layer, 1), tol * 1e6f + 0.0f) << "layer " << layer << " pos " << pos;
      ASSERT_NEAR(k[1], 1.0f, tol * 1e6f);
      ASSERT_NEAR(v[1], 2.0f, tol * 1e6f);
    }
  }
}

std::vector<int32_t> RandomTokens(std::mt19937& rng, int32_t n, int32_t vocab = 50) {
  std::vector<int32_t> t(n);
  for (int32_t& x : t) x = static_cast<int32_t>(rng() % vocab);
  return t;
}

Status Integrity(KvCache* kv, const PrefixCache& cache, const std::vector<const SeqKv*>& live) {
  PARLEY_RETURN_IF_ERROR(cache.CheckIntegrity());
  SeqKv held = cache.HeldPages();
  std::vector<const SeqKv*> tables = live;
  tables.push_back(&held);
  return kv->CheckIntegrity(tables, /*exact=*/true);
}

// Computes `tokens` as one finished sequence and leaves it in the cache.
void Finish(KvCache* kv, PrefixCache* cache, const std::vector<int32_t>& tokens) {
  SeqKv seq = kv->NewSeq();
  int32_t done = cache->Match(tokens, static_cast<int32_t>(tokens.size()) - 1, &seq);
  ASSERT_TRUE(Compute(kv, cache, &seq, tokens, done, static_cast<int32_t>(tokens.size())));
  const int32_t boundary[] = {static_cast<int32_t>(tokens.size())};
  cache->Insert(tokens, static_cast<int32_t>(tokens.size()), seq, boundary);
  kv->Free(&seq);
}

TEST(PrefixCacheTest, ANewTurnResumesAfterTheCachedPrefixWithTheSameKv) {
  auto kv = MakeKv(Hybrid(), 3);
  PrefixCache cache(kv.get(), {});
  std::mt19937 rng(1);
  std::vector<int32_t> a = RandomTokens(rng, 22);
  Finish(kv.get(), &cache, a);
  EXPECT_EQ(cache.num_nodes(), 5);  // full pages only

  std::vector<int32_t> b = a;
  for (int i = 0; i < 5; ++i) b.push_back(7);
  SeqKv seq = kv->NewSeq();
  ASSERT_EQ(cache.Match(b, static_cast<int32_t>(b.size()) - 1, &seq), 20);
  ExpectRows(kv.get(), seq, b, 20);
  EXPECT_EQ(kv->pool(1).refcount(seq.pages[1][0]), 2);  // the cache's and the sequence's
  ASSERT_TRUE(Integrity(kv.get(), cache, {&seq}).ok()) << Integrity(kv.get(), cache, {&seq}).message();
  ASSERT_TRUE(Compute(kv.get(), &cache, &seq, b, 20, 27));
  ExpectRows(kv.get(), seq, b, 27);
  EXPECT_EQ(cache.stats().hits, 1);
  EXPECT_EQ(cache.stats().hit_tokens_pool, 20);
  kv->Free(&seq);
  ASSERT_TRUE(Integrity(kv.get(), cache, {}).ok());
}

TEST(PrefixCacheTest, StopsAtTheLastWholeCommonPageAndLeavesATokenToCompute) {
  auto kv = MakeKv(Hybrid(), 3);
  PrefixCache cache(kv.get(), {});
  std::mt19937 rng(2);
  std::vector<int32_t> a = RandomTokens(rng, 24);
  Finish(kv.get(), &cache, a);
  std::vector<int32_t> b(a.begin(), a.begin() + 10);
  b.push_back(99);  // diverges inside page 2
  b.push_back(98);
  SeqKv seq = kv->NewSeq();
  EXPECT_EQ(cache.Match(b, 11, &seq), 8);
  ExpectRows(kv.get(), seq, b, 8);
  kv->Free(&seq);
  // The same 24 tokens again: at least one must be computed, so 20 (not 24) are resumed.
  EXPECT_EQ(cache.Match(a, 23, &seq), 20);
  kv->Free(&seq);
  // Nothing in common.
  EXPECT_EQ(cache.Match(std::vector<int32_t>(12, 77), 11, &seq), 0);
  EXPECT_EQ(cache.stats().miss_new, 2);  // Finish's own lookup of `a`, and this one
  // Shorter than a page: not even a lookup.
  EXPECT_EQ(cache.Match(a, 3, &seq), 0);
  EXPECT_EQ(cache.stats().lookups, 4);
}

TEST(PrefixCacheTest, WindowPagesDecideWhetherAPrefixIsResumable) {
  std::mt19937 rng(3);
  std::vector<int32_t> a = RandomTokens(rng, 48);
  std::vector<int32_t> b = a;
  b.push_back(5);
  b.push_back(6);
  {
    // The window group keeps no slack: positions [32, 48) only. A resume at 44 needs
    // [28, 44): page 7 is gone, and so is every earlier resume point.
    auto kv = MakeKv(Hybrid(), 3, /*window_keep=*/0);
    PrefixCache cache(kv.get(), {});
    Finish(kv.get(), &cache, a);
    SeqKv seq = kv->NewSeq();
    EXPECT_EQ(cache.Match(b, 47, &seq), 0);
    EXPECT_EQ(cache.stats().miss_window, 1);
    // The whole sequence resumes where it ended (one page of the window kept suffices there).
    std::vector<int32_t> c = a;
    for (int i = 0; i < 4; ++i) c.push_back(1);
    EXPECT_EQ(cache.Match(c, 51, &seq), 48);
    ExpectRows(kv.get(), seq, c, 48);
    kv->Free(&seq);
  }
  {
    // Two pages of slack: the resume at 44 has its window.
    auto kv = MakeKv(Hybrid(), 3, /*window_keep=*/8);
    PrefixCache cache(kv.get(), {});
    Finish(kv.get(), &cache, a);
    SeqKv seq = kv->NewSeq();
    EXPECT_EQ(cache.Match(b, 47, &seq), 44);
    ExpectRows(kv.get(), seq, b, 44);
    // Global pages all there, window pages only where needed.
    EXPECT_EQ(seq.pages[0][0], -1);
    EXPECT_GE(seq.pages[1][0], 0);
    kv->Free(&seq);
    ASSERT_TRUE(Integrity(kv.get(), cache, {}).ok());
  }
}

TEST(PrefixCacheTest, OnlyTheLatestTurnBoundariesKeepTheirWindowPages) {
  auto kv = MakeKv(Hybrid(), 6, /*window_keep=*/8);
  PrefixCache cache(kv.get(), {});
  std::mt19937 rng(7);
  std::vector<int32_t> t1 = RandomTokens(rng, 24);
  Finish(kv.get(), &cache, t1);
  std::vector<int32_t> t2 = t1;
  for (int32_t x : RandomTokens(rng, 40)) t2.push_back(x);
  Finish(kv.get(), &cache, t2);  // resumes t1's 24 tokens, then computes 40
  // Cached window pages: 0-5 (turn 1) and 10-15 (turn 2's last 24 positions). Turn 2's
  // boundary at 64 keeps 8-15 (its window, 12-15, and four pages of slack); turn 1's pages
  // are no longer kept, so they go first, without touching the kept ones.
  const std::vector<int32_t> need = {kv->pool(0).num_free() + 6, 0};
  ASSERT_TRUE(cache.MakeRoom(need));
  std::vector<int32_t> next = t2;
  next.push_back(1);
  SeqKv seq = kv->NewSeq();
  EXPECT_EQ(cache.Match(next, 64, &seq), 64);
  ExpectRows(kv.get(), seq, next, 64);
  kv->Free(&seq);
  // Turn 1's boundary was superseded: its window pages are gone, so it no longer resumes.
  std::vector<int32_t> edit = t1;
  for (int i = 0; i < 6; ++i) edit.push_back(9);
  EXPECT_EQ(cache.Match(edit, 29, &seq), 0);
  EXPECT_EQ(cache.stats().miss_window, 1);
  ASSERT_TRUE(Integrity(kv.get(), cache, {}).ok());
}

// Eight 40-token conversations, finished into the cache one after another.
void FinishConversations(KvCache* kv, PrefixCache* cache, std::vector<std::vector<int32_t>>* convs) {
  std::mt19937 rng(4);
  for (int i = 0; i < 8; ++i) {
    convs->push_back(RandomTokens(rng, 40));
    Finish(kv, cache, convs->back());
    ASSERT_TRUE(Integrity(kv, *cache, {}).ok()) << Integrity(kv, *cache, {}).message();
  }
}

// Each conversation's next turn resumes all 40 tokens, with the rows it had (int8: within
// 1% of the row max).
void ExpectNextTurnsResume(KvCache* kv, PrefixCache* cache, const std::vector<std::vector<int32_t>>& convs,
                           HostCodec codec) {
  const float tol = codec == HostCodec::kInt8 ? 0.01f : 0.0f;
  for (const auto& c : convs) {
    std::vector<int32_t> next = c;
    next.push_back(3);
    SeqKv seq = kv->NewSeq();
    int32_t n = cache->Match(next, static_cast<int32_t>(next.size()) - 1, &seq);
    EXPECT_EQ(n, 40);
    ExpectRows(kv, seq, next, n, tol);
    ASSERT_TRUE(Integrity(kv, *cache, {&seq}).ok()) << Integrity(kv, *cache, {&seq}).message();
    kv->Free(&seq);
  }
}

class PrefixCacheTierTest : public ::testing::TestWithParam<HostCodec> {};

TEST_P(PrefixCacheTierTest, EvictedPagesSpillAndComeBackByCopy) {
  auto kv = MakeKv(Hybrid(), 1.5);
  PrefixCacheOptions o;
  o.host_bytes = 1 << 20;
  o.host_codec = GetParam();
  PrefixCache cache(kv.get(), o);
  std::vector<std::vector<int32_t>> convs;
  ASSERT_NO_FATAL_FAILURE(FinishConversations(kv.get(), &cache, &convs));
  EXPECT_GT(cache.stats().spilled_pages, 0);
  ASSERT_NO_FATAL_FAILURE(ExpectNextTurnsResume(kv.get(), &cache, convs, GetParam()));
  EXPECT_GT(cache.stats().restored_pages, 0);
  EXPECT_GT(cache.stats().hit_tokens_host, 0);
}

INSTANTIATE_TEST_SUITE_P(Codecs, PrefixCacheTierTest,
                         ::testing::Values(HostCodec::kRaw, HostCodec::kZstd, HostCodec::kInt8),
                         [](const auto& info) { return std::string(HostCodecName(info.param)); });

TEST(PrefixCacheTest, WithoutAHostTierEvictedPrefixesAreMissesByReasonEvicted) {
  auto kv = MakeKv(Hybrid(), 1.5);
  PrefixCache cache(kv.get(), {});
  std::mt19937 rng(5);
  std::vector<std::vector<int32_t>> convs;
  for (int i = 0; i < 8; ++i) {
    convs.push_back(RandomTokens(rng, 40));
    Finish(kv.get(), &cache, convs.back());
  }
  EXPECT_GT(cache.stats().evicted_pages, 0);
  EXPECT_EQ(cache.stats().spilled_pages, 0);
  SeqKv seq = kv->NewSeq();
  EXPECT_EQ(cache.Match(convs[0], 39, &seq), 0);  // the oldest went first
  EXPECT_EQ(cache.stats().miss_evicted, 1);
  EXPECT_EQ(cache.Match(convs[7], 39, &seq), 36);  // the newest is still there
  kv->Free(&seq);
  ASSERT_TRUE(Integrity(kv.get(), cache, {}).ok());
}

TEST(PrefixCacheTest, EvictionTakesTheLeastRecentlyUsedConversationFirst) {
  auto kv = MakeKv(GlobalOnly(), 4);
  PrefixCache cache(kv.get(), {});
  std::mt19937 rng(8);
  std::vector<int32_t> old_conv = RandomTokens(rng, 40), new_conv = RandomTokens(rng, 40);
  Finish(kv.get(), &cache, old_conv);
  Finish(kv.get(), &cache, new_conv);
  std::vector<int32_t> need;
  for (int32_t g = 0; g < kv->num_groups(); ++g) need.push_back(kv->pool(g).num_free() + 5);
  ASSERT_TRUE(cache.MakeRoom(need));
  // Five pages from the old conversation's end; the new one keeps all of its pages.
  SeqKv seq = kv->NewSeq();
  EXPECT_EQ(cache.Match(new_conv, 39, &seq), 36);
  kv->Free(&seq);
  EXPECT_EQ(cache.Match(old_conv, 39, &seq), 20);
  kv->Free(&seq);
  ASSERT_TRUE(Integrity(kv.get(), cache, {}).ok());
}

TEST(PrefixCacheTest, EvictionVisitsTheNodesItFreesNotTheTree) {
  // Many cached conversations; freeing a few pages looks at about that many nodes.
  auto kv = MakeKv(Hybrid(), 64);
  PrefixCache cache(kv.get(), {});
  std::mt19937 rng(21);
  std::vector<std::vector<int32_t>> convs;
  for (int i = 0; i < 40; ++i) {
    convs.push_back(RandomTokens(rng, 40));
    Finish(kv.get(), &cache, convs.back());
  }
  ASSERT_GT(cache.num_nodes(), 300);
  // A live sequence pins the oldest conversation's last pages: eviction passes over them.
  SeqKv live = kv->NewSeq();
  ASSERT_EQ(cache.Match(convs[0], 39, &live), 36);
  for (size_t i = 1; i < convs.size(); ++i) Finish(kv.get(), &cache, convs[i]);  // now newer
  for (int round = 0; round < 5; ++round) {
    std::vector<int32_t> need;
    for (int32_t g = 0; g < kv->num_groups(); ++g) need.push_back(kv->pool(g).num_free() + 3);
    const auto want = cache.ScanEvictionOrder(need);
    const int64_t before = cache.eviction_visits();
    cache.set_log_evictions(true);
    ASSERT_TRUE(cache.MakeRoom(need));
    EXPECT_EQ(cache.evictions(), want);
    EXPECT_EQ(cache.evictions().size(), 6u);
    EXPECT_LE(cache.eviction_visits() - before, 6 + 2);  // + a pinned node of each group
    cache.set_log_evictions(false);
  }
  EXPECT_GT(cache.eviction_visits(), 30);  // some pinned nodes were passed
  ASSERT_TRUE(Integrity(kv.get(), cache, {&live}).ok());
  kv->Free(&live);
}

TEST(PrefixCacheTest, PinnedPagesAreNeverEvicted) {
  auto kv = MakeKv(Hybrid(), 2);
  PrefixCache cache(kv.get(), {});
  std::mt19937 rng(6);
  std::vector<int32_t> a = RandomTokens(rng, 40);
  Finish(kv.get(), &cache, a);
  SeqKv seq = kv->NewSeq();
  ASSERT_EQ(cache.Match(a, 39, &seq), 36);
  // Ask for every page: only unpinned ones can go, so it cannot succeed.
  std::vector<int32_t> all = {kv->pool(0).num_pages(), kv->pool(1).num_pages()};
  EXPECT_FALSE(cache.MakeRoom(all));
  ExpectRows(kv.get(), seq, a, 36);
  ASSERT_TRUE(Integrity(kv.get(), cache, {&seq}).ok());
  kv->Free(&seq);
  EXPECT_TRUE(cache.MakeRoom(all));  // now everything can go
  EXPECT_EQ(cache.num_nodes(), 0);
  ASSERT_TRUE(Integrity(kv.get(), cache, {}).ok());
}

// Random operations on live sequences (start, match, extend, finish into the cache, drop,
// make room) with the integrity check after each, every resumed row checked against its
// tokens, and on a global-only layout without eviction the matched length checked against
// a reference: the longest whole-page prefix some finished sequence had.
PrefixCacheStats RandomOps(const KvLayout& layout, double sequences, int64_t host_bytes, bool check_reference,
                           uint32_t seed, int64_t disk_bytes = 0, int steps = 400,
                           Env* disk_env = Env::Default()) {
  auto kv = MakeKv(layout, sequences);
  PrefixCacheOptions o;
  o.host_bytes = host_bytes;
  std::unique_ptr<DiskTier> disk;
  if (disk_bytes > 0) disk = std::move(DiskTier::Open(::testing::TempDir() + "/parley-random-ops", disk_bytes, disk_env).value());
  PrefixCache cache(kv.get(), o, std::move(disk));
  std::mt19937 rng(seed);
  struct Live {
    std::vector<int32_t> tokens;
    SeqKv kv;
    int32_t computed = 0;
  };
  std::vector<Live> live;
  std::set<std::vector<int32_t>> finished_pages;  // every whole-page prefix of finished sequences
  std::vector<std::vector<int32_t>> histories;
  auto live_tables = [&] {
    std::vector<const SeqKv*> t;
    for (const Live& l : live) t.push_back(&l.kv);
    return t;
  };
  for (int step = 0; step < steps; ++step) {
    const int op = static_cast<int>(rng() % 4);
    if (op == 0 || live.empty()) {
      // A new request: a fresh conversation, or the next turn of an old one (its history
      // plus new tokens), or an edit of an old one (a prefix of it plus new tokens).
      Live l;
      if (!histories.empty() && rng() % 3 != 0) {
        const auto& h = histories[rng() % histories.size()];
        size_t keep = rng() % 2 ? h.size() : rng() % (h.size() + 1);
        l.tokens.assign(h.begin(), h.begin() + keep);
      }
      std::vector<int32_t> more = RandomTokens(rng, 1 + static_cast<int32_t>(rng() % 12), 6);
      l.tokens.insert(l.tokens.end(), more.begin(), more.end());
      if (l.tokens.size() > static_cast<size_t>(kMaxContext)) l.tokens.resize(kMaxContext);
      l.kv = kv->NewSeq();
      const int32_t max_tokens = static_cast<int32_t>(l.tokens.size()) - 1;
      l.computed = cache.Match(l.tokens, max_tokens, &l.kv);
      if (l.computed > 0) ExpectRows(kv.get(), l.kv, l.tokens, l.computed);
      if (check_reference) {
        int32_t want = 0;
        for (int32_t d = max_tokens / kPs; d >= 1; --d) {
          if (finished_pages.count(std::vector<int32_t>(l.tokens.begin(), l.tokens.begin() + d * kPs))) {
            want = d * kPs;
            break;
          }
        }
        EXPECT_EQ(l.computed, want) << "step " << step;
      if (l.computed != want) return cache.stats();
      }
      live.push_back(std::move(l));
    } else if (op == 1) {
      // Compute some of a live sequence.
      Live& l = live[rng() % live.size()];
      const int32_t to = std::min<int32_t>(static_cast<int32_t>(l.tokens.size()), l.computed + 1 + rng() % 8);
      if (l.computed < to && Compute(kv.get(), &cache, &l.kv, l.tokens, l.computed, to)) l.computed = to;
    } else if (op == 2) {
      // Finish one: its computed pages go into the cache (or it is dropped without).
      const size_t i = rng() % live.size();
      Live& l = live[i];
      if (rng() % 4 != 0 && l.computed > 0) {
        const int32_t boundary[] = {l.computed};
        cache.Insert(l.tokens, l.computed, l.kv, boundary);
        for (int32_t d = 1; d * kPs <= l.computed; ++d) {
          finished_pages.insert(std::vector<int32_t>(l.tokens.begin(), l.tokens.begin() + d * kPs));
        }
        histories.push_back(std::vector<int32_t>(l.tokens.begin(), l.tokens.begin() + l.computed));
      }
      kv->Free(&l.kv);
      live.erase(live.begin() + static_cast<long>(i));
    } else {
      std::vector<int32_t> need = {static_cast<int32_t>(rng() % 6), static_cast<int32_t>(rng() % 6)};
      // In the order a scan of the tree finds (eviction before the ordered sets).
      const auto want = cache.ScanEvictionOrder(need);
      cache.set_log_evictions(true);
      cache.MakeRoom(need);  // may fail when live sequences pin the pool
      EXPECT_EQ(cache.evictions(), want) << "step " << step;
      cache.set_log_evictions(false);
    }
    Status st = Integrity(kv.get(), cache, live_tables());
    EXPECT_TRUE(st.ok()) << "step " << step << ": " << st.message();
    if (!st.ok()) return cache.stats();
    for (const Live& l : live) {
      if (l.computed > 0) ExpectRows(kv.get(), l.kv, l.tokens, l.computed);
    }
    if (::testing::Test::HasFatalFailure()) return cache.stats();
  }
  const PrefixCacheStats stats = cache.stats();
  for (Live& l : live) kv->Free(&l.kv);
  cache.Clear();
  for (int32_t g = 0; g < kv->num_groups(); ++g) EXPECT_EQ(kv->pool(g).num_used(), 0);
  return stats;
}

TEST(PrefixCacheTest, RandomOperationsMatchTheReferenceWithoutEviction) {
  for (uint32_t seed = 1; seed <= 3; ++seed) RandomOps(GlobalOnly(), 256, 0, /*check_reference=*/true, seed);
}

TEST(PrefixCacheTest, RandomOperationsUnderPressureKeepEveryInvariant) {
  for (uint32_t seed = 1; seed <= 3; ++seed) {
    RandomOps(Hybrid(), 3, 0, false, seed);
    RandomOps(Hybrid(), 3, 1 << 16, false, seed + 10);
    // Small host and disk tiers: pages move down to disk, disk leaves are dropped.
  }
}

TEST(PrefixCacheTest, RandomOperationsWithSmallHostAndDiskTiersKeepEveryInvariant) {
  // Tiers of a few pages each (a page is 64 bytes here): pages move from the host tier to
  // disk, and the disk tier drops its least recently used leaves.
  PrefixCacheStats total;
  for (uint32_t seed = 1; seed <= 3; ++seed) {
    for (int64_t host : {int64_t{256}, int64_t{0}}) {  // 0: disk only
      PrefixCacheStats s = RandomOps(Hybrid(), 3, host, false, seed + 20, /*disk_bytes=*/512, /*steps=*/1500);
      total.disk_written_pages += s.disk_written_pages;
      total.disk_restored_pages += s.disk_restored_pages;
      total.disk_dropped_pages += s.disk_dropped_pages;
    }
  }
  EXPECT_GT(total.disk_written_pages, 0);
  EXPECT_GT(total.disk_restored_pages, 0);
  EXPECT_GT(total.disk_dropped_pages, 0);
}

TEST(PrefixCacheTest, DiskFaultsUnderRandomOperationsAreMissesNeverWrongKv) {
  // Each fault, armed for many operations, hits a disk tier under random operations;
  // RandomOps checks every resumed row against its tokens and the integrity after each step.
  using Fault = FaultyEnv::Fault;
  for (Fault fault : {Fault::kOpenFails, Fault::kWriteFails, Fault::kShortWrite, Fault::kTornWrite,
                      Fault::kNoSpace, Fault::kCloseFails, Fault::kRenameFails, Fault::kReadFails,
                      Fault::kShortRead, Fault::kCorruptRead, Fault::kVanished}) {
    SCOPED_TRACE("fault " + std::to_string(static_cast<int>(fault)));
    FaultyEnv env;
    env.Inject(fault, 15);
    const PrefixCacheStats s = RandomOps(Hybrid(), 3, 0, false, 31, /*disk_bytes=*/512, /*steps=*/1000, &env);
    EXPECT_GT(env.fired(fault), 0);
    EXPECT_GT(s.disk_written_pages, 0);  // the tier went on working around the faults
    const bool read_fault = fault == Fault::kTornWrite || fault >= Fault::kReadFails;
    if (read_fault) {
      EXPECT_GT(s.disk_read_errors, 0);
    }
  }
}

std::unique_ptr<DiskTier> TestDisk(const std::string& name, int64_t bytes) {
  return std::move(DiskTier::Open(::testing::TempDir() + "/" + name, bytes).value());
}

TEST_P(PrefixCacheTierTest, PagesTheHostTierHasNoRoomForMoveToDiskAndComeBack) {
  auto kv = MakeKv(Hybrid(), 1.5);
  PrefixCacheOptions o;
  o.host_bytes = 512;  // a few pages
  o.host_codec = GetParam();
  PrefixCache cache(kv.get(), o, TestDisk("tiers", 1 << 20));
  std::vector<std::vector<int32_t>> convs;
  ASSERT_NO_FATAL_FAILURE(FinishConversations(kv.get(), &cache, &convs));
  EXPECT_GT(cache.stats().disk_written_pages, 0);
  EXPECT_GT(cache.disk()->num_pages(), 0);
  EXPECT_LE(cache.host()->bytes_used(), 512);
  ASSERT_NO_FATAL_FAILURE(ExpectNextTurnsResume(kv.get(), &cache, convs, GetParam()));
  EXPECT_GT(cache.stats().disk_restored_pages, 0);
  EXPECT_GT(cache.stats().hit_tokens_disk, 0);
  EXPECT_EQ(cache.stats().disk_read_errors, 0);
}

TEST(PrefixCacheTest, ADamagedDiskPageIsAMissNotWrongKv) {
  auto kv = MakeKv(Hybrid(), 1.5);
  PrefixCacheOptions o;  // no host tier: evicted pages go straight to disk
  PrefixCache cache(kv.get(), o, TestDisk("damaged", 1 << 20));
  std::mt19937 rng(7);
  std::vector<std::vector<int32_t>> convs;
  for (int i = 0; i < 8; ++i) {
    convs.push_back(RandomTokens(rng, 40));
    Finish(kv.get(), &cache, convs.back());
  }
  ASSERT_GT(cache.disk()->num_pages(), 0);
  // Damage every file on disk: the oldest conversation, all on disk, resumes nothing.
  for (const auto& entry : std::filesystem::directory_iterator(cache.disk()->path())) {
    std::FILE* f = std::fopen(entry.path().c_str(), "r+b");
    ASSERT_NE(f, nullptr);
    std::fputc(0x5A, f);
    std::fclose(f);
  }
  std::vector<int32_t> next = convs[0];
  next.push_back(3);
  SeqKv seq = kv->NewSeq();
  const int32_t n = cache.Match(next, static_cast<int32_t>(next.size()) - 1, &seq);
  EXPECT_LT(n, 40);
  if (n > 0) ExpectRows(kv.get(), seq, next, n);
  EXPECT_GT(cache.stats().disk_read_errors, 0);
  ASSERT_TRUE(Integrity(kv.get(), cache, {&seq}).ok()) << Integrity(kv.get(), cache, {&seq}).message();
  kv->Free(&seq);
}

}  // namespace
}  // namespace parley
