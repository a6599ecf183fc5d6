#include "prefix_cache/recent_keys.h"

#include <gtest/gtest.h>

#include <vector>

namespace parley {
namespace {

TEST(RecentKeysTest, RemembersInsertedKeysUntilErased) {
  RecentKeys keys(4);
  EXPECT_FALSE(keys.Contains(0x1234));
  keys.Insert(0x1234);
  keys.Insert(0x5671);
  EXPECT_TRUE(keys.Contains(0x1234));
  EXPECT_TRUE(keys.Contains(0x5671));
  EXPECT_FALSE(keys.Contains(0x1235));
  keys.Erase(0x1234);
  EXPECT_FALSE(keys.Contains(0x1234));
  EXPECT_TRUE(keys.Contains(0x5671));
}

TEST(RecentKeysTest, ANewerKeyInTheSameSlotReplacesTheOlder) {
  RecentKeys keys(4);  // 16 slots: keys equal in their low 4 bits share one
  keys.Insert(0x10);
  keys.Insert(0x20);
  EXPECT_FALSE(keys.Contains(0x10));
  EXPECT_TRUE(keys.Contains(0x20));
  keys.Erase(0x10);  // not there: leaves the slot's key alone
  EXPECT_TRUE(keys.Contains(0x20));
}

TEST(RecentKeysTest, KeyZeroIsNeverRemembered) {
  RecentKeys keys(4);
  keys.Insert(0);
  EXPECT_FALSE(keys.Contains(0));
}

TEST(RecentKeysTest, MemoryStaysFixedAndTheLatestKeysAreFound) {
  RecentKeys keys(10);
  uint64_t x = 0x9E3779B97F4A7C15ull;
  std::vector<uint64_t> last;
  for (int i = 0; i < 1 << 20; ++i) {  // a million evicted conversations
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    keys.Insert(x);
    if (i >= (1 << 20) - 8) last.push_back(x);
  }
  EXPECT_EQ(keys.capacity(), 1024u);
  // The newest key is always there; of the last few, all but those a later one replaced.
  EXPECT_TRUE(keys.Contains(last.back()));
  int found = 0;
  for (uint64_t k : last) found += keys.Contains(k) ? 1 : 0;
  EXPECT_GE(found, 6);
}

}  // namespace
}  // namespace parley
