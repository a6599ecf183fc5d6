#include "spec/ngram_pool.h"

#include <gtest/gtest.h>

namespace parley {
namespace {

TEST(NgramPoolTest, DraftsWhatFollowedAnNgramInAnotherSequence) {
  NgramPool pool(1024, 3, 4);
  pool.Add(std::vector<int32_t>{10, 11, 12, 13, 14, 15, 16, 17});
  std::vector<int32_t> d;
  EXPECT_EQ(pool.Lookup(std::vector<int32_t>{99, 11, 12, 13}, 8, &d), 4);
  EXPECT_EQ(d, (std::vector<int32_t>{14, 15, 16, 17}));
  d.clear();
  EXPECT_EQ(pool.Lookup(std::vector<int32_t>{14, 15, 16}, 8, &d), 1);  // only 17 followed
  EXPECT_EQ(d, (std::vector<int32_t>{17}));
  d.clear();
  EXPECT_EQ(pool.Lookup(std::vector<int32_t>{11, 12, 13}, 2, &d), 2);
  EXPECT_EQ(d, (std::vector<int32_t>{14, 15}));
}

TEST(NgramPoolTest, MissesUnknownNgramsAndShortTexts) {
  NgramPool pool(1024, 3, 4);
  pool.Add(std::vector<int32_t>{1, 2, 3, 4});
  std::vector<int32_t> d;
  EXPECT_EQ(pool.Lookup(std::vector<int32_t>{2, 3, 4}, 8, &d), 0);  // nothing followed it
  EXPECT_EQ(pool.Lookup(std::vector<int32_t>{1, 2}, 8, &d), 0);
  EXPECT_EQ(pool.Lookup(std::vector<int32_t>{7, 8, 9}, 8, &d), 0);
  EXPECT_TRUE(d.empty());
}

TEST(NgramPoolTest, StaysBoundedAndNeverReturnsAnotherKeysContinuation) {
  NgramPool pool(16, 2, 2);  // far fewer slots than n-grams: slots are overwritten
  std::vector<int32_t> text;
  for (int32_t i = 0; i < 5000; ++i) text.push_back(i);
  pool.Add(text);
  EXPECT_EQ(pool.bytes(), 16 * (2 + 1 + 2) * 4);
  int32_t hits = 0;
  for (int32_t i = 0; i + 2 < 5000; ++i) {
    std::vector<int32_t> d;
    if (pool.Lookup(std::vector<int32_t>{i, i + 1}, 2, &d) > 0) {
      ++hits;
      EXPECT_EQ(d[0], i + 2);  // a slot answers only for its own key
    }
  }
  EXPECT_GT(hits, 0);
  EXPECT_LE(hits, 16);
}

}  // namespace
}  // namespace parley
