#include "prefix_cache/remote_page.h"

#include <gtest/gtest.h>

namespace parley {
namespace {

RemotePageId Id() { return RemotePageId{0x1234, 0x99, 1, {5, 6, 7, 8}}; }

std::vector<uint8_t> Payload() {
  std::vector<uint8_t> p(100);
  for (size_t i = 0; i < p.size(); ++i) p[i] = static_cast<uint8_t>(i * 13 + 1);
  return p;
}

TEST(RemotePageTest, RoundTripsAndNamesByFingerprintKeyAndGroup) {
  const std::vector<uint8_t> v = EncodeRemotePage(42, Id(), HostCodec::kZstd, Payload());
  HostCodec codec = HostCodec::kRaw;
  std::span<const uint8_t> payload;
  ASSERT_EQ(DecodeRemotePage(v, 42, Id(), &codec, &payload), RemoteDecode::kOk);
  EXPECT_EQ(codec, HostCodec::kZstd);
  EXPECT_EQ(std::vector<uint8_t>(payload.begin(), payload.end()), Payload());
  EXPECT_EQ(RemoteKeyName(42, 0x1234, 1), "parley:kv:000000000000002a:0000000000001234:1");
  EXPECT_NE(RemoteKeyName(43, 0x1234, 1), RemoteKeyName(42, 0x1234, 1));
}

TEST(RemotePageTest, EveryDamagedOrForeignValueIsRefused) {
  const std::vector<uint8_t> good = EncodeRemotePage(42, Id(), HostCodec::kRaw, Payload());
  HostCodec codec;
  std::span<const uint8_t> payload;
  auto decode = [&](const std::vector<uint8_t>& v, uint64_t fp, const RemotePageId& id) {
    return DecodeRemotePage(v, fp, id, &codec, &payload);
  };
  // Any single flipped byte, header or body, is caught.
  for (size_t i = 0; i < good.size(); ++i) {
    std::vector<uint8_t> bad = good;
    bad[i] ^= 0x40;
    EXPECT_NE(decode(bad, 42, Id()), RemoteDecode::kOk) << "byte " << i;
  }
  std::vector<uint8_t> shorter(good.begin(), good.end() - 1);
  EXPECT_EQ(decode(shorter, 42, Id()), RemoteDecode::kShort);
  std::vector<uint8_t> longer = good;
  longer.push_back(0);
  EXPECT_EQ(decode(longer, 42, Id()), RemoteDecode::kShort);
  EXPECT_EQ(decode(std::vector<uint8_t>(10, 0), 42, Id()), RemoteDecode::kShort);
  EXPECT_EQ(decode(std::vector<uint8_t>(200, 0), 42, Id()), RemoteDecode::kBadHeader);
  // Whole and well formed, but not what the reader asked for.
  EXPECT_EQ(decode(good, 43, Id()), RemoteDecode::kMismatch);
  RemotePageId other = Id();
  other.tokens[2] = 70;  // a hash collision: same key, other tokens
  EXPECT_EQ(decode(good, 42, other), RemoteDecode::kMismatch);
  other = Id();
  other.parent = 1;
  EXPECT_EQ(decode(good, 42, other), RemoteDecode::kMismatch);
  other = Id();
  other.group = 0;
  EXPECT_EQ(decode(good, 42, other), RemoteDecode::kMismatch);
  EXPECT_EQ(decode(good, 42, Id()), RemoteDecode::kOk);
}

}  // namespace
}  // namespace parley
