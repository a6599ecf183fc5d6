#include "spec/ngram_lookup.h"

#include <gtest/gtest.h>

namespace parley {
namespace {

TEST(NgramLookupTest, ProposesWhatFollowedTheLatestOccurrenceOfTheLongestEnding) {
  // "1 2 3 | 9 9 | 1 2 3 4 5 | 7 | 2 3" : the ending (2 3) occurred twice; the latest is
  // followed by 4 5 7.
  const std::vector<int32_t> t = {1, 2, 3, 9, 9, 1, 2, 3, 4, 5, 7, 2, 3};
  std::vector<int32_t> d;
  EXPECT_EQ(LookupNgramDraft(t, {}, 3, &d), 3);
  EXPECT_EQ(d, (std::vector<int32_t>{4, 5, 7}));
  // Past the end of the text, the copy goes on from the ending: 4 5 7 2 3 4 5 ...
  d.clear();
  EXPECT_EQ(LookupNgramDraft(t, {}, 7, &d), 7);
  EXPECT_EQ(d, (std::vector<int32_t>{4, 5, 7, 2, 3, 4, 5}));
}

TEST(NgramLookupTest, LongerEndingsWinOverLaterShorterOnes) {
  // Ending 8 2 3 occurs at the start (followed by 6); 2 3 alone occurs later (followed by 4).
  const std::vector<int32_t> t = {8, 2, 3, 6, 1, 2, 3, 4, 8, 2, 3};
  std::vector<int32_t> d;
  EXPECT_EQ(LookupNgramDraft(t, {}, 2, &d), 2);
  EXPECT_EQ(d, (std::vector<int32_t>{6, 1}));
}

TEST(NgramLookupTest, NothingWhenNoEndingRecursOrNoRoom) {
  std::vector<int32_t> d;
  EXPECT_EQ(LookupNgramDraft(std::vector<int32_t>{1, 2, 3, 4, 5}, {}, 4, &d), 0);
  EXPECT_EQ(LookupNgramDraft(std::vector<int32_t>{1, 2, 1, 2}, {}, 0, &d), 0);
  EXPECT_EQ(LookupNgramDraft(std::vector<int32_t>{}, {}, 4, &d), 0);
  EXPECT_EQ(LookupNgramDraft(std::vector<int32_t>{7}, {}, 4, &d), 0);
  EXPECT_TRUE(d.empty());
  // A single repeated token needs min_n = 1.
  EXPECT_EQ(LookupNgramDraft(std::vector<int32_t>{5, 6, 1, 5}, {}, 4, &d), 0);
  EXPECT_EQ(LookupNgramDraft(std::vector<int32_t>{5, 6, 1, 5}, {.min_n = 1, .max_n = 4}, 4, &d), 4);
  EXPECT_EQ(d, (std::vector<int32_t>{6, 1, 5, 6}));
}

TEST(NgramLookupTest, ARepeatingPatternContinuesThroughItsOwnEnding) {
  const std::vector<int32_t> t = {4, 1, 2, 1, 2, 1, 2};
  std::vector<int32_t> d;
  // Latest earlier "1 2" starts at index 3; what follows it is the ending itself, and on.
  EXPECT_EQ(LookupNgramDraft(t, {}, 5, &d), 5);
  EXPECT_EQ(d, (std::vector<int32_t>{1, 2, 1, 2, 1}));
}

TEST(NgramLookupTest, FindNgramSearchesForwardFromAPosition) {
  const std::vector<int32_t> s = {1, 2, 3, 1, 2, 3};
  EXPECT_EQ(FindNgram(s, std::vector<int32_t>{1, 2}, 0), 2);
  EXPECT_EQ(FindNgram(s, std::vector<int32_t>{1, 2}, 1), 5);
  EXPECT_EQ(FindNgram(s, std::vector<int32_t>{3, 1}, 4), -1);
  EXPECT_EQ(FindNgram(s, std::vector<int32_t>{}, 0), -1);
}

}  // namespace
}  // namespace parley
