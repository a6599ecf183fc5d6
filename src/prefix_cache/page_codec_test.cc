// Page codecs on pages of an int8 KV pool (rows of int8 values and f16 group scales): every
// codec, and the host and disk tiers behind them, give the page back byte for byte; the
// int8 codec stores such pages raw (they are int8 already). The f32 / f16 cases are in
// host_tier_test.cc.
#include "prefix_cache/page_codec.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

#include "kernels/kv_int8.h"
#include "prefix_cache/disk_tier.h"
#include "prefix_cache/host_tier.h"

namespace parley {
namespace {

constexpr HostCodec kCodecs[] = {HostCodec::kRaw, HostCodec::kZstd, HostCodec::kInt8};

// SmolLM2-like rows (3 KV heads of 64), 2 owner layers, 16 positions.
PagePoolShape Int8Shape() { return PagePoolShape{16, 2, 192, KvDtype::kI8, 64}; }

// A page whose rows are quantized random floats, as StoreKv writes them.
std::vector<uint8_t> Int8Page(const PagePoolShape& shape, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, 2.0f);
  std::vector<uint8_t> page(shape.page_bytes());
  const int32_t heads = shape.kv_dim / shape.head_dim;
  std::vector<float> x(shape.kv_dim);
  for (size_t r = 0; r < page.size() / shape.row_bytes(); ++r) {
    for (float& v : x) v = dist(rng);
    QuantizeKvRowI8(x.data(), heads, shape.head_dim, page.data() + r * shape.row_bytes());
  }
  return page;
}

TEST(PageCodecTest, Int8PoolPagesRoundTripExactlyUnderEveryCodec) {
  const PagePoolShape shape = Int8Shape();
  ASSERT_EQ(shape.page_bytes(), 2u * 2 * 16 * (3 * (64 + 2 * 2)));  // two f16 scales per head
  const std::vector<uint8_t> page = Int8Page(shape, 1);
  for (HostCodec codec : kCodecs) {
    const std::vector<uint8_t> blob = EncodePage(shape, codec, page.data());
    if (codec != HostCodec::kZstd) {
      EXPECT_EQ(blob, page) << HostCodecName(codec) << ": stored byte for byte";
      EXPECT_EQ(EncodedPageBytesEstimate(shape, codec), static_cast<int64_t>(page.size()));
    }
    std::vector<uint8_t> back(page.size(), 0xAB);
    ASSERT_TRUE(DecodePage(shape, codec, blob, back.data())) << HostCodecName(codec);
    EXPECT_EQ(back, page) << HostCodecName(codec);
    // A blob of another shape is refused, not misread.
    PagePoolShape other = shape;
    other.page_size = 8;
    std::vector<uint8_t> scratch(shape.page_bytes());
    EXPECT_FALSE(DecodePage(other, codec, blob, scratch.data())) << HostCodecName(codec);
  }
}

TEST(PageCodecTest, Int8PoolPagesComeBackExactFromTheHostAndDiskTiers) {
  const PagePoolShape shape = Int8Shape();
  auto disk = DiskTier::Open(::testing::TempDir() + "/parley-page-codec", 1 << 20);
  ASSERT_TRUE(disk.ok()) << disk.status().message();
  uint32_t seed = 10;
  for (HostCodec codec : kCodecs) {
    const std::vector<uint8_t> page = Int8Page(shape, ++seed);
    HostTier host(1 << 20, codec);
    const int64_t id = host.Put(shape, page.data());
    ASSERT_GE(id, 0);
    std::vector<uint8_t> back(page.size(), 0);
    host.Get(id, shape, back.data());
    EXPECT_EQ(back, page) << "host tier, " << HostCodecName(codec);
    // Host to disk, as the prefix cache moves a page down, and back.
    const int64_t disk_id = (*disk)->Put(host.Take(id));
    ASSERT_GE(disk_id, 0);
    std::vector<uint8_t> blob;
    ASSERT_TRUE((*disk)->Get(disk_id, &blob).ok());
    std::fill(back.begin(), back.end(), 0);
    ASSERT_TRUE(DecodePage(shape, codec, blob, back.data()));
    EXPECT_EQ(back, page) << "disk tier, " << HostCodecName(codec);
  }
}

}  // namespace
}  // namespace parley
