#include "prefix_cache/host_tier.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>

#include "kernels/fp16.h"

namespace parley {
namespace {

std::vector<uint8_t> RandomPage(const PagePoolShape& shape, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, 2.0f);
  std::vector<uint8_t> page(shape.page_bytes());
  const size_t n = page.size() / KvDtypeBytes(shape.dtype);
  for (size_t i = 0; i < n; ++i) {
    float v = dist(rng);
    if (shape.dtype == KvDtype::kF32) {
      std::memcpy(page.data() + i * 4, &v, 4);
    } else {
      uint16_t h = F32ToF16(v);
      std::memcpy(page.data() + i * 2, &h, 2);
    }
  }
  return page;
}

TEST(HostTierTest, LosslessCodecsRoundTripExactly) {
  for (KvDtype dtype : {KvDtype::kF32, KvDtype::kF16}) {
    for (HostCodec codec : {HostCodec::kRaw, HostCodec::kZstd}) {
      PagePoolShape shape{16, 2, 64, dtype, 64};
      HostTier tier(1 << 20, codec);
      std::vector<uint8_t> page = RandomPage(shape, 1);
      int64_t id = tier.Put(shape, page.data());
      ASSERT_GE(id, 0);
      std::vector<uint8_t> back(page.size(), 0xAB);
      tier.Get(id, shape, back.data());
      EXPECT_EQ(back, page) << HostCodecName(codec);
      EXPECT_GT(tier.bytes_used(), 0);
      tier.Drop(id);
      EXPECT_EQ(tier.bytes_used(), 0);
      EXPECT_EQ(tier.num_pages(), 0);
    }
  }
}

TEST(HostTierTest, Int8KeepsEachRowWithinHalfAStep) {
  PagePoolShape shape{16, 2, 64, KvDtype::kF32, 64};
  HostTier tier(1 << 20, HostCodec::kInt8);
  std::vector<uint8_t> page = RandomPage(shape, 2);
  int64_t id = tier.Put(shape, page.data());
  ASSERT_GE(id, 0);
  EXPECT_EQ(tier.bytes_used(), EncodedPageBytesEstimate(shape, HostCodec::kInt8));
  EXPECT_LT(tier.bytes_used() * 3, static_cast<int64_t>(page.size()));
  std::vector<uint8_t> back(page.size());
  tier.Get(id, shape, back.data());
  const float* a = reinterpret_cast<const float*>(page.data());
  const float* b = reinterpret_cast<const float*>(back.data());
  for (int64_t r = 0; r < 2 * 2 * 16; ++r) {
    float amax = 0;
    for (int i = 0; i < 64; ++i) amax = std::max(amax, std::fabs(a[r * 64 + i]));
    for (int i = 0; i < 64; ++i) EXPECT_LE(std::fabs(a[r * 64 + i] - b[r * 64 + i]), amax / 254 * 1.001f);
  }
}

TEST(HostTierTest, RefusesWhatDoesNotFitAndCountsBytes) {
  PagePoolShape shape{4, 1, 8, KvDtype::kF32, 8};  // 256-byte pages
  HostTier tier(600, HostCodec::kRaw);
  std::vector<uint8_t> page = RandomPage(shape, 3);
  int64_t a = tier.Put(shape, page.data());
  int64_t b = tier.Put(shape, page.data());
  EXPECT_GE(a, 0);
  EXPECT_GE(b, 0);
  EXPECT_NE(a, b);
  EXPECT_EQ(tier.Put(shape, page.data()), -1);
  EXPECT_EQ(tier.bytes_used(), 512);
  tier.Drop(a);
  EXPECT_FALSE(tier.Contains(a));
  EXPECT_GE(tier.Put(shape, page.data()), 0);
}

TEST(HostTierTest, ParsesCodecNames) {
  EXPECT_EQ(*ParseHostCodec("zstd"), HostCodec::kZstd);
  EXPECT_FALSE(ParseHostCodec("gzip").ok());
}

}  // namespace
}  // namespace parley
