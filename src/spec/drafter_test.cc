#include "spec/drafter.h"

#include <gtest/gtest.h>

namespace parley {
namespace {

TEST(DraftLengthTest, DraftsWhileTheChanceOfKeepingATokenBeatsItsPrice) {
  EXPECT_EQ(DraftLength(0.9, 0.5, 16), 6);   // 0.9^6 = 0.53, 0.9^7 = 0.48
  EXPECT_EQ(DraftLength(0.9, 0.05, 8), 8);   // capped
  EXPECT_EQ(DraftLength(0.4, 0.5, 8), 0);    // not worth one token
  EXPECT_EQ(DraftLength(1.0, 0.99, 5), 5);
  EXPECT_EQ(DraftLength(0.9, 0.0, 0), 0);
}

TEST(AcceptanceEstimateTest, MovesWithEvidenceAndFadesBackToItsPrior) {
  AcceptanceEstimate e(0.5);
  EXPECT_DOUBLE_EQ(e.rate(), 0.5);
  for (int i = 0; i < 10; ++i) e.Update(4, 4);
  EXPECT_GT(e.rate(), 0.9);
  for (int i = 0; i < 10; ++i) e.Update(4, 0);
  EXPECT_LT(e.rate(), 0.4);
  const double low = e.rate();
  for (int i = 0; i < 200; ++i) e.Fade();
  EXPECT_GT(e.rate(), low);
  EXPECT_NEAR(e.rate(), 0.5, 0.05);
}

TEST(SequenceDrafterTest, PrefersThePredictionThenTheHistoryThenThePool) {
  DrafterOptions opt;
  NgramPool pool(256, 3, 4);
  pool.Add(std::vector<int32_t>{20, 21, 22, 23, 24});
  // Prompt 1 2 3 4 1 2 ; prediction 3 4 9.
  SequenceDrafter with({3, 4, 9}, opt);
  std::vector<int32_t> tokens = {1, 2, 3, 4, 1, 2};
  std::vector<int32_t> d;
  EXPECT_EQ(with.Propose(tokens, &pool, 0.1, 8, &d), DraftSource::kPrediction);
  EXPECT_EQ(d, (std::vector<int32_t>{3, 4, 9}));

  SequenceDrafter without({}, opt);
  EXPECT_EQ(without.Propose(tokens, &pool, 0.1, 8, &d), DraftSource::kHistory);
  EXPECT_EQ(d, (std::vector<int32_t>{3, 4, 1, 2}));

  tokens = {5, 21, 22, 23};
  EXPECT_EQ(without.Propose(tokens, &pool, 0.1, 8, &d), DraftSource::kPool);
  EXPECT_EQ(d, (std::vector<int32_t>{24}));
  tokens = {5, 6, 7};
  EXPECT_EQ(without.Propose(tokens, &pool, 0.1, 8, &d), DraftSource::kNone);
  EXPECT_TRUE(d.empty());
}

TEST(SequenceDrafterTest, StopsDraftingASourceThatKeepsMissingWhenTokensAreDear) {
  SequenceDrafter s({}, DrafterOptions{});
  const std::vector<int32_t> tokens = {1, 2, 3, 1, 2};
  std::vector<int32_t> d;
  ASSERT_EQ(s.Propose(tokens, nullptr, 0.5, 4, &d), DraftSource::kHistory);
  for (int i = 0; i < 6; ++i) s.Feedback(DraftSource::kHistory, 1, 0);
  EXPECT_EQ(s.Propose(tokens, nullptr, 0.5, 4, &d), DraftSource::kNone);
  // Cheap tokens (a lone stream on a memory-bound machine): still worth a try.
  EXPECT_EQ(s.Propose(tokens, nullptr, 0.05, 4, &d), DraftSource::kHistory);
}

}  // namespace
}  // namespace parley
