#include "model/sequence_kv.h"

#include <gtest/gtest.h>

namespace parley {
namespace {

ModelConfig TwoLayerConfig(int32_t window) {
  ModelConfig c;
  c.num_layers = 2;
  c.num_heads = 2;
  c.num_kv_heads = 1;
  c.head_dim = 4;
  c.layers = {LayerConfig{window, 10000.0f}, LayerConfig{0, 10000.0f}};
  return c;
}

TEST(SequenceKvTest, WindowLayersReleasePagesOutsideTheWindow) {
  SequenceKv kv(TwoLayerConfig(32), 1000);
  const int64_t after_window = [&] {
    EXPECT_TRUE(kv.Reserve(64));
    kv.Advance(64);
    return kv.bytes();
  }();
  for (int i = 0; i < 800; ++i) {
    ASSERT_TRUE(kv.Reserve(1));
    kv.Advance(1);
  }
  // The global layer grew by 800 positions; the window layer stayed bounded.
  const int64_t row = 4 * sizeof(float) * 2;  // K and V of one position
  EXPECT_LE(kv.bytes() - after_window, 800 * row + 16 * row * 2);
  EXPECT_TRUE(kv.cache()->CheckIntegrity({kv.seq()}, /*exact=*/true).ok());
}

TEST(SequenceKvTest, TruncateOnlyWhereTheWindowIsStillThere) {
  SequenceKv kv(TwoLayerConfig(32), 1000);
  ASSERT_TRUE(kv.Reserve(200));
  kv.Advance(200);
  EXPECT_TRUE(kv.CanTruncateTo(195));  // needs [163, 195): still held
  EXPECT_FALSE(kv.CanTruncateTo(100));  // the window pages before ~168 were released
  EXPECT_FALSE(kv.CanTruncateTo(201));
  kv.Truncate(195);
  EXPECT_EQ(kv.num_tokens(), 195);
  kv.Clear();
  EXPECT_EQ(kv.num_tokens(), 0);
  EXPECT_EQ(kv.cache()->pool(0).num_used() + kv.cache()->pool(1).num_used(), 0);
}

TEST(SequenceKvTest, ReserveStopsAtTheContext) {
  SequenceKv kv(TwoLayerConfig(0), 40);
  EXPECT_TRUE(kv.Reserve(40));
  EXPECT_FALSE(kv.Reserve(41));
}

}  // namespace
}  // namespace parley
