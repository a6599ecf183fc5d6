// The type table: names, geometry, supported flags.
#include "kernels/tensor_type.h"

#include <gtest/gtest.h>

namespace parley {
namespace {

TEST(TensorTypeTest, SupportedTypesHaveKnownGeometry) {
  struct Want {
    uint32_t id;
    const char* name;
    int elems, bytes;
  };
  const Want want[] = {{0, "F32", 1, 4},       {1, "F16", 1, 2},       {30, "BF16", 1, 2},
                       {2, "Q4_0", 32, 18},    {3, "Q4_1", 32, 20},    {6, "Q5_0", 32, 22},
                       {7, "Q5_1", 32, 24},    {8, "Q8_0", 32, 34},    {10, "Q2_K", 256, 84},
                       {11, "Q3_K", 256, 110}, {12, "Q4_K", 256, 144}, {13, "Q5_K", 256, 176},
                       {14, "Q6_K", 256, 210}};
  for (const Want& w : want) {
    const TypeInfo* info = FindTypeInfo(w.id);
    ASSERT_NE(info, nullptr) << w.name;
    EXPECT_STREQ(info->name, w.name);
    EXPECT_EQ(info->block_elems, w.elems) << w.name;
    EXPECT_EQ(info->block_bytes, w.bytes) << w.name;
    EXPECT_TRUE(info->supported) << w.name;
  }
}

TEST(TensorTypeTest, UnsupportedAndUnknownIds) {
  for (uint32_t id : {9u, 15u, 16u, 17u, 18u, 19u, 20u, 21u, 22u, 23u, 24u, 25u, 26u, 27u, 28u, 29u,
                      34u, 35u, 39u}) {
    const TypeInfo* info = FindTypeInfo(id);
    ASSERT_NE(info, nullptr) << id;
    EXPECT_FALSE(info->supported) << info->name;
  }
  for (uint32_t id : {4u, 5u, 31u, 32u, 33u, 36u, 37u, 38u, 999u}) {
    EXPECT_EQ(FindTypeInfo(id), nullptr) << id;
  }
  EXPECT_EQ(TypeName(16), "IQ2_XXS");
  EXPECT_EQ(TypeName(12), "Q4_K");
  EXPECT_EQ(TypeName(999), "type 999");
  EXPECT_EQ(FindTypeInfo(15)->block_bytes, 292);  // Q8_K: f32 d, 256 quants, 16 sums
}

TEST(TensorTypeTest, RowBytes) {
  EXPECT_EQ(RowBytes(TensorType::kQ8_0, 640), 20u * 34u);
  EXPECT_EQ(RowBytes(TensorType::kQ4_K, 1024), 4u * 144u);
  EXPECT_EQ(RowBytes(TensorType::kF32, 7), 28u);
  EXPECT_EQ(RowBytes(TensorType::kBF16, 3), 6u);
}

}  // namespace
}  // namespace parley
