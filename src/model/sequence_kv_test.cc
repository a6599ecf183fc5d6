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

TEST(SequenceKvTest, WindowLayersKeepOnlyTheWindow) {
  SequenceKv kv(TwoLayerConfig(8), 100);
  EXPECT_EQ(kv.capacity(0), 8);
  EXPECT_EQ(kv.capacity(1), 100);
  EXPECT_EQ(kv.bytes(), size_t(2 * (8 + 100) * 4 * sizeof(float)));
  // Positions p and p + 8 share a slot in the window layer, never in the global one.
  EXPECT_EQ(kv.k(0, 3), kv.k(0, 11));
  EXPECT_NE(kv.k(1, 3), kv.k(1, 11));
}

TEST(SequenceKvTest, TruncateOnlyWhereWindowKeysSurvive) {
  SequenceKv kv(TwoLayerConfig(8), 100);
  kv.Advance(20);
  EXPECT_TRUE(kv.CanTruncateTo(20));
  EXPECT_TRUE(kv.CanTruncateTo(19));  // position 19's slot held 11, which 19 no longer needs
  EXPECT_FALSE(kv.CanTruncateTo(12));  // needs 5..11; 12..19 overwrote 4..11
  kv.Truncate(19);
  EXPECT_EQ(kv.num_tokens(), 19);
  SequenceKv small(TwoLayerConfig(8), 100);
  small.Advance(6);
  EXPECT_TRUE(small.CanTruncateTo(2));  // nothing was overwritten yet
}

}  // namespace
}  // namespace parley
