// Tests for PagedKvView: rows stored in the cache's format land where KvCache addresses
// them, and HeadRows walks pages and heads the way the attention kernels read them.
#include "kv/paged_kv_view.h"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "kernels/kv_int8.h"
#include "kernels/quant.h"

namespace parley {
namespace {

std::unique_ptr<KvCache> Cache(KvDtype dtype) {
  auto layout = KvLayout::Make({0, 0}, {}, /*kv_dim=*/64, /*head_dim=*/32);
  PARLEY_CHECK(layout.ok());
  KvCacheOptions o;
  o.arena_bytes = 1 << 20;
  o.page_size = 4;
  o.max_context = 64;
  o.dtype = dtype;
  return KvCache::Create(*layout, o).value();
}

TEST(PagedKvViewTest, StoresRowsInTheCacheFormatAndAddressesEveryHead) {
  for (KvDtype dtype : {KvDtype::kF32, KvDtype::kF16, KvDtype::kI8}) {
    auto cache = Cache(dtype);
    SeqKv seq = cache->NewSeq();
    ASSERT_TRUE(cache->Reserve(&seq, 0, 10));
    PagedKvView view(cache.get());
    EXPECT_EQ(view.format(), dtype == KvDtype::kF32   ? KvRowFormat::kF32
                             : dtype == KvDtype::kF16 ? KvRowFormat::kF16
                                                      : KvRowFormat::kI8);
    const size_t row = KvRowBytes(dtype, 64, 32), head = KvRowBytes(dtype, 32, 32);
    std::vector<float> k(64), v(64);
    for (int32_t pos = 0; pos < 10; ++pos) {
      for (int i = 0; i < 64; ++i) k[i] = 0.01f * (pos * 64 + i), v[i] = -k[i];
      view.Store(seq, 1, pos, k.data(), v.data());
      std::vector<uint8_t> want(row);
      if (dtype == KvDtype::kF32) std::memcpy(want.data(), k.data(), row);
      if (dtype == KvDtype::kF16) QuantizeRow(TensorType::kF16, k.data(), want.data(), 64);
      if (dtype == KvDtype::kI8) QuantizeKvRowI8(k.data(), 2, 32, want.data());
      EXPECT_EQ(0, std::memcmp(cache->k_row(seq, 1, pos), want.data(), row)) << pos;
    }
    const uint8_t* kr[7];
    const uint8_t* vr[7];
    view.HeadRows(seq, 1, /*kv_head=*/1, /*lo=*/2, /*len=*/7, kr, vr);  // spans three pages
    for (int32_t j = 0; j < 7; ++j) {
      EXPECT_EQ(kr[j], cache->k_row(seq, 1, 2 + j) + head);
      EXPECT_EQ(vr[j], cache->v_row(seq, 1, 2 + j) + head);
    }
  }
}

}  // namespace
}  // namespace parley
