// Tests for PagePool (allocation, reference counts, exhaustion, row addressing) and the
// KvDtype helpers.
#include "kv/page_pool.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <random>
#include <set>

namespace parley {
namespace {

struct FreeDeleter {
  void operator()(uint8_t* p) const { std::free(p); }
};
using AlignedBuffer = std::unique_ptr<uint8_t, FreeDeleter>;

AlignedBuffer Aligned(size_t bytes) {
  return AlignedBuffer(static_cast<uint8_t*>(std::aligned_alloc(64, (bytes + 63) / 64 * 64)));
}

TEST(KvDtypeTest, SizesNamesAndParsing) {
  EXPECT_EQ(KvDtypeBytes(KvDtype::kF32), 4u);
  EXPECT_EQ(KvDtypeBytes(KvDtype::kF16), 2u);
  EXPECT_STREQ(KvDtypeName(KvDtype::kF32), "f32");
  EXPECT_EQ(KvDtypeBytes(KvDtype::kI8), 1u);
  EXPECT_STREQ(KvDtypeName(KvDtype::kF16), "f16");
  EXPECT_STREQ(KvDtypeName(KvDtype::kI8), "int8");
  for (const char* name : {"int8", "i8"}) {
    auto i8 = ParseKvDtype(name);
    ASSERT_TRUE(i8.ok()) << name;
    EXPECT_EQ(*i8, KvDtype::kI8);
  }
  auto d = ParseKvDtype("f16");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(*d, KvDtype::kF16);
  d = ParseKvDtype("f32");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(*d, KvDtype::kF32);
  for (const char* bad : {"", "F32", "bf16", "q8", "f16 ", "int4", "I8"}) {
    d = ParseKvDtype(bad);
    ASSERT_FALSE(d.ok()) << bad;
    EXPECT_EQ(d.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(d.status().message().find("f32, f16 or int8"), std::string::npos);
  }
}

TEST(PagePoolShapeTest, PageAndRowBytes) {
  PagePoolShape shape{16, 3, 8, KvDtype::kF16, 8};
  EXPECT_EQ(shape.row_bytes(), 16u);
  EXPECT_EQ(shape.page_bytes(), 3u * 2 * 16 * 8 * 2);
  shape.dtype = KvDtype::kF32;
  EXPECT_EQ(shape.page_bytes(), 3u * 2 * 16 * 8 * 4);
  // f32 and f16 rows do not depend on how kv_dim splits into heads.
  shape.head_dim = 2;
  EXPECT_EQ(shape.row_bytes(), 32u);
}

// int8 rows: per head, head_dim int8 values and an f16 scale per 32 of them.
TEST(PagePoolShapeTest, Int8RowsHoldAScalePer32ValuesOfAHead) {
  PagePoolShape gemma{16, 1, 256, KvDtype::kI8, 256};  // Gemma 3 270M: 1 KV head of 256
  EXPECT_EQ(gemma.row_bytes(), 256u + 8 * 2);
  EXPECT_EQ(gemma.page_bytes(), 2u * 16 * 272);
  PagePoolShape smollm{16, 2, 192, KvDtype::kI8, 64};  // SmolLM2 135M: 3 KV heads of 64
  EXPECT_EQ(smollm.row_bytes(), 3u * (64 + 2 * 2));
  EXPECT_EQ(smollm.page_bytes(), 2u * 2 * 16 * 204);
  // A head of 40 values: two groups, the second of 8 values.
  EXPECT_EQ(KvRowBytes(KvDtype::kI8, 80, 40), 2u * (40 + 2 * 2));
  // Against f32: ~3.8x (head 256) and ~3.8x (head 64) more positions per byte.
  EXPECT_EQ(KvRowBytes(KvDtype::kF32, 256, 256), 1024u);
  EXPECT_EQ(KvRowBytes(KvDtype::kF32, 192, 64), 768u);
}

TEST(PagePoolTest, AllocateReleaseAndExhaustion) {
  PagePoolShape shape{4, 1, 4, KvDtype::kF32, 4};
  AlignedBuffer mem = Aligned(4 * shape.page_bytes());
  PagePool pool(shape, mem.get(), 4);
  EXPECT_EQ(pool.num_pages(), 4);
  EXPECT_EQ(pool.num_free(), 4);
  EXPECT_TRUE(pool.CheckIntegrity().ok());
  std::set<int32_t> got;
  for (int i = 0; i < 4; ++i) {
    int32_t p = pool.Allocate();
    ASSERT_GE(p, 0);
    EXPECT_EQ(pool.refcount(p), 1);
    got.insert(p);
  }
  EXPECT_EQ(got, (std::set<int32_t>{0, 1, 2, 3}));
  EXPECT_EQ(pool.num_free(), 0);
  EXPECT_EQ(pool.num_used(), 4);
  EXPECT_EQ(pool.Allocate(), -1);  // exhausted: -1, never a crash
  EXPECT_EQ(pool.Allocate(), -1);
  EXPECT_TRUE(pool.CheckIntegrity().ok());

  pool.Release(2);
  EXPECT_EQ(pool.refcount(2), 0);
  EXPECT_EQ(pool.num_free(), 1);
  EXPECT_TRUE(pool.CheckIntegrity().ok());
  EXPECT_EQ(pool.Allocate(), 2);
  EXPECT_EQ(pool.Allocate(), -1);
  for (int32_t p : got) pool.Release(p);
  EXPECT_EQ(pool.num_free(), 4);
  EXPECT_TRUE(pool.CheckIntegrity().ok());
}

TEST(PagePoolTest, FreeListIsAStack) {
  PagePoolShape shape{2, 1, 2, KvDtype::kF16, 2};
  AlignedBuffer mem = Aligned(3 * shape.page_bytes());
  PagePool pool(shape, mem.get(), 3);
  EXPECT_EQ(pool.Allocate(), 0);
  EXPECT_EQ(pool.Allocate(), 1);
  EXPECT_EQ(pool.Allocate(), 2);
  pool.Release(0);
  pool.Release(2);
  EXPECT_EQ(pool.Allocate(), 2);  // last released, first reused
  EXPECT_EQ(pool.Allocate(), 0);
}

TEST(PagePoolTest, ReferenceCounts) {
  PagePoolShape shape{4, 2, 4, KvDtype::kF32, 4};
  AlignedBuffer mem = Aligned(2 * shape.page_bytes());
  PagePool pool(shape, mem.get(), 2);
  const int32_t p = pool.Allocate();
  pool.AddRef(p);
  pool.AddRef(p);
  EXPECT_EQ(pool.refcount(p), 3);
  pool.Release(p);
  pool.Release(p);
  EXPECT_EQ(pool.refcount(p), 1);
  EXPECT_EQ(pool.num_free(), 1);  // still held
  EXPECT_TRUE(pool.CheckIntegrity().ok());
  pool.Release(p);
  EXPECT_EQ(pool.num_free(), 2);
  EXPECT_TRUE(pool.CheckIntegrity().ok());
}

TEST(PagePoolTest, EmptyPoolAllocatesNothing) {
  PagePool pool(PagePoolShape{16, 1, 8, KvDtype::kF32, 8}, nullptr, 0);
  EXPECT_EQ(pool.Allocate(), -1);
  EXPECT_TRUE(pool.CheckIntegrity().ok());
}

TEST(PagePoolDeathTest, MisuseIsABug) {
  PagePoolShape shape{4, 1, 4, KvDtype::kF32, 4};
  AlignedBuffer mem = Aligned(2 * shape.page_bytes());
  PagePool pool(shape, mem.get(), 2);
  EXPECT_DEATH(pool.Release(0), "Release of free page 0");
  EXPECT_DEATH(pool.AddRef(1), "AddRef on free page 1");
  EXPECT_DEATH(pool.Release(2), "page 2 of 2");
  const int32_t p = pool.Allocate();
  pool.Release(p);
  EXPECT_DEATH(pool.Release(p), "Release of free page");
  EXPECT_DEATH({ PagePool bad(shape, mem.get() + 8, 1); }, "64-byte aligned");
  EXPECT_DEATH({ PagePool bad(PagePoolShape{4, 1, 6, KvDtype::kI8, 4}, mem.get(), 1); }, "head_dim 4");
}

// Every (page, slot, K/V, offset) row is a distinct kv_dim-element stretch of the pool's
// memory, and together they tile it exactly.
void CheckRowsTile(KvDtype dtype) {
  PagePoolShape shape{4, 3, 6, dtype, 3};  // two heads of 3 (int8: 14-byte rows)
  const int32_t num_pages = 3;
  const size_t row = shape.row_bytes();
  AlignedBuffer mem = Aligned(num_pages * shape.page_bytes());
  PagePool pool(shape, mem.get(), num_pages);
  std::set<size_t> starts;
  uint32_t id = 0;
  for (int32_t p = 0; p < num_pages; ++p) {
    for (int32_t s = 0; s < shape.owners; ++s) {
      for (int32_t o = 0; o < shape.page_size; ++o, ++id) {
        for (int kv = 0; kv < 2; ++kv) {
          uint8_t* r = kv == 0 ? pool.k_row(p, s, o) : pool.v_row(p, s, o);
          const size_t at = static_cast<size_t>(r - mem.get());
          EXPECT_EQ(at % row, 0u);
          EXPECT_LE(at + row, num_pages * shape.page_bytes());
          // The page's rows lie inside that page.
          EXPECT_EQ(at / shape.page_bytes(), static_cast<size_t>(p));
          starts.insert(at);
          for (size_t b = 0; b < row; ++b) r[b] = static_cast<uint8_t>(id * 7 + kv * 101 + b * 13);
        }
      }
    }
  }
  EXPECT_EQ(starts.size(), num_pages * shape.page_bytes() / row);  // no two rows share bytes
  const PagePool& cpool = pool;
  id = 0;
  for (int32_t p = 0; p < num_pages; ++p) {
    for (int32_t s = 0; s < shape.owners; ++s) {
      for (int32_t o = 0; o < shape.page_size; ++o, ++id) {
        EXPECT_EQ(cpool.k_row(p, s, o), pool.k_row(p, s, o));
        for (int kv = 0; kv < 2; ++kv) {
          const uint8_t* r = kv == 0 ? cpool.k_row(p, s, o) : cpool.v_row(p, s, o);
          for (size_t b = 0; b < row; ++b) {
            ASSERT_EQ(r[b], static_cast<uint8_t>(id * 7 + kv * 101 + b * 13))
                << "page " << p << " slot " << s << " offset " << o << " kv " << kv;
          }
        }
      }
    }
  }
  // Layout [owners][K then V][page_size][kv_dim]: V of slot 0 follows K of slot 0.
  EXPECT_EQ(pool.v_row(1, 0, 0), pool.k_row(1, 0, 0) + shape.page_size * row);
  EXPECT_EQ(pool.k_row(1, 1, 0), pool.k_row(1, 0, 0) + 2 * shape.page_size * row);
  EXPECT_EQ(pool.k_row(1, 0, 0), mem.get() + shape.page_bytes());
}

TEST(PagePoolTest, RowsDoNotOverlapF32) { CheckRowsTile(KvDtype::kF32); }
TEST(PagePoolTest, RowsDoNotOverlapF16) { CheckRowsTile(KvDtype::kF16); }
TEST(PagePoolTest, RowsDoNotOverlapInt8) { CheckRowsTile(KvDtype::kI8); }

TEST(PagePoolTest, RandomOperationsKeepIntegrity) {
  PagePoolShape shape{2, 1, 2, KvDtype::kF32, 2};
  const int32_t n = 16;
  AlignedBuffer mem = Aligned(n * shape.page_bytes());
  PagePool pool(shape, mem.get(), n);
  std::vector<int32_t> ref(n, 0);  // reference refcounts
  std::mt19937 rng(7);
  for (int step = 0; step < 3000; ++step) {
    const int op = rng() % 3;
    if (op == 0) {
      const int32_t p = pool.Allocate();
      const bool any_free = std::count(ref.begin(), ref.end(), 0) > 0;
      ASSERT_EQ(p >= 0, any_free);
      if (p >= 0) {
        ASSERT_EQ(ref[p], 0);
        ref[p] = 1;
      }
    } else {
      const int32_t p = rng() % n;
      if (ref[p] == 0) continue;
      if (op == 1) {
        pool.AddRef(p);
        ++ref[p];
      } else {
        pool.Release(p);
        --ref[p];
      }
    }
    int32_t used = 0;
    for (int32_t p = 0; p < n; ++p) {
      ASSERT_EQ(pool.refcount(p), ref[p]);
      used += ref[p] > 0;
    }
    ASSERT_EQ(pool.num_used(), used);
    ASSERT_TRUE(pool.CheckIntegrity().ok()) << pool.CheckIntegrity().message();
  }
}

}  // namespace
}  // namespace parley
