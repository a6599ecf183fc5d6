#include "spec/prediction.h"

#include <gtest/gtest.h>

namespace parley {
namespace {

std::vector<int32_t> DraftOf(const PredictionAligner& p, int32_t k) {
  std::vector<int32_t> d;
  p.Draft(k, &d);
  return d;
}

TEST(PredictionAlignerTest, FollowsAnOutputThatRepeatsThePrediction) {
  PredictionAligner p({1, 2, 3, 4, 5, 6});
  EXPECT_EQ(DraftOf(p, 3), (std::vector<int32_t>{1, 2, 3}));
  std::vector<int32_t> out = {1, 2};
  p.Observe(out);
  EXPECT_EQ(DraftOf(p, 3), (std::vector<int32_t>{3, 4, 5}));
  out = {1, 2, 3, 4, 5, 6};
  p.Observe(out);
  EXPECT_TRUE(DraftOf(p, 3).empty());  // at its end
}

TEST(PredictionAlignerTest, RealignsAfterAReplacedWord) {
  // Prediction: 10 11 12 13 14 15 16 17 ; the output replaces 12 by 40 41, then goes on.
  PredictionAligner p({10, 11, 12, 13, 14, 15, 16, 17});
  std::vector<int32_t> out = {10, 11, 40};
  p.Observe(out);
  EXPECT_EQ(p.next(), -1);  // lost: 11 40 occurs nowhere
  EXPECT_TRUE(DraftOf(p, 2).empty());
  out = {10, 11, 40, 41, 13, 14};
  p.Observe(out);
  EXPECT_EQ(DraftOf(p, 3), (std::vector<int32_t>{15, 16, 17}));
}

TEST(PredictionAlignerTest, RealignsAfterADeletionAndAnInsertion) {
  PredictionAligner p({1, 2, 3, 4, 5, 6, 7, 8, 9});
  // Deleted 3 4: after "1 2 5" the 2-token ending "2 5" is nowhere, but "5" follows once
  // "5 6" is out.
  std::vector<int32_t> out = {1, 2, 5, 6};
  p.Observe(out);
  EXPECT_EQ(DraftOf(p, 2), (std::vector<int32_t>{7, 8}));
  // Inserted 50 51 after 7, then back on track at 8 9.
  out = {1, 2, 5, 6, 7, 50, 51, 8};
  p.Observe(out);
  EXPECT_EQ(p.next(), -1);  // "51 8" is not in the prediction
  out.push_back(9);
  p.Observe(out);
  EXPECT_TRUE(DraftOf(p, 2).empty());  // "8 9" found at the end: nothing after it
  EXPECT_EQ(p.next(), 9);
}

TEST(PredictionAlignerTest, PrefersTheOccurrenceAfterThePreviousPlace) {
  // "7 8" occurs twice; after passing the first, realigning must pick the second.
  PredictionAligner p({7, 8, 1, 2, 3, 7, 8, 4, 5});
  std::vector<int32_t> out = {7, 8, 1, 2, 3, 9, 7, 8};
  p.Observe(out);
  EXPECT_EQ(DraftOf(p, 2), (std::vector<int32_t>{4, 5}));
}

}  // namespace
}  // namespace parley
