#include "engine/engine_stats.h"

#include <gtest/gtest.h>

#include <thread>

namespace parley {
namespace {

TEST(DistributionTest, CountsEachValueInTheFirstBucketThatHoldsIt) {
  Distribution d({0.1, 1});
  for (double v : {0.05, 0.1, 0.5, 1.0, 7.0}) d.Observe(v);
  EXPECT_EQ(d.counts, (std::vector<uint64_t>{2, 2, 1}));  // upper bounds are inclusive
  EXPECT_EQ(d.count, 5u);
  EXPECT_DOUBLE_EQ(d.sum, 0.05 + 0.1 + 0.5 + 1.0 + 7.0);
}

TEST(EngineStatsRecorderTest, SnapshotsSeeEveryRecord) {
  EngineStatsRecorder rec;
  std::thread writer([&] {
    for (int i = 0; i < 1000; ++i) {
      rec.Record([](EngineStats& s) {
        ++s.generation_tokens;
        s.inter_token_latency.Observe(0.003);
      });
    }
  });
  for (int i = 0; i < 100; ++i) {
    const EngineStats s = rec.Snapshot();
    EXPECT_EQ(static_cast<uint64_t>(s.generation_tokens), s.inter_token_latency.count);  // never torn
  }
  writer.join();
  const EngineStats s = rec.Snapshot();
  EXPECT_EQ(s.generation_tokens, 1000);
  EXPECT_EQ(s.inter_token_latency.counts[2], 1000u);  // 0.003 is in (0.0025, 0.005]
  EXPECT_EQ(s.time_to_first_token.count, 0u);
}

}  // namespace
}  // namespace parley
