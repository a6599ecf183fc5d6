// Tests for KvLayout (grouping, sharing, validation) and ParseKvSharing.
#include "kv/kv_layout.h"

#include <gtest/gtest.h>

namespace parley {
namespace {

// Gemma 3 style: five window layers then one global layer, repeated.
std::vector<int32_t> GemmaWindows(int32_t num_layers, int32_t window) {
  std::vector<int32_t> w(num_layers);
  for (int32_t l = 0; l < num_layers; ++l) w[l] = (l + 1) % 6 != 0 ? window : 0;
  return w;
}

void ExpectInvalid(const StatusOr<KvLayout>& layout, const std::string& needle) {
  ASSERT_FALSE(layout.ok());
  EXPECT_EQ(layout.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(layout.status().message().find(needle), std::string::npos)
      << layout.status().message();
}

TEST(KvLayoutTest, GemmaLikeWithoutSharingHasTwoGroups) {
  auto layout = KvLayout::Make(GemmaWindows(12, 512), {}, 256, 256);
  ASSERT_TRUE(layout.ok()) << layout.status().message();
  EXPECT_EQ(layout->num_layers(), 12);
  EXPECT_EQ(layout->kv_dim(), 256);
  EXPECT_EQ(layout->head_dim(), 256);
  ASSERT_EQ(layout->num_groups(), 2);
  EXPECT_EQ(layout->groups()[0].window, 512);
  EXPECT_EQ(layout->groups()[0].owner_layers,
            (std::vector<int32_t>{0, 1, 2, 3, 4, 6, 7, 8, 9, 10}));
  EXPECT_EQ(layout->groups()[1].window, 0);
  EXPECT_EQ(layout->groups()[1].owner_layers, (std::vector<int32_t>{5, 11}));
  EXPECT_EQ(layout->num_owner_layers(), 12);
  for (int32_t l = 0; l < 12; ++l) {
    EXPECT_TRUE(layout->is_owner(l));
    EXPECT_EQ(layout->owner(l), l);
  }
  EXPECT_EQ(layout->group_of(7), 0);
  EXPECT_EQ(layout->slot_of(7), 6);
  EXPECT_EQ(layout->group_of(11), 1);
  EXPECT_EQ(layout->slot_of(11), 1);
  EXPECT_EQ(layout->window(11), 0);
  EXPECT_EQ(layout->window(10), 512);
  EXPECT_EQ(layout->Describe(),
            "2 groups: window 512 x10 layers [0 1 2 3 4 6 7 8 9 10], global x2 layers [5 11]");
}

TEST(KvLayoutTest, GroupsAreOrderedByFirstOwnerLayer) {
  auto layout = KvLayout::Make({0, 128, 0, 64, 128}, {}, 8, 8);
  ASSERT_TRUE(layout.ok()) << layout.status().message();
  ASSERT_EQ(layout->num_groups(), 3);
  EXPECT_EQ(layout->groups()[0].window, 0);
  EXPECT_EQ(layout->groups()[1].window, 128);
  EXPECT_EQ(layout->groups()[2].window, 64);
  EXPECT_EQ(layout->group_of(4), 1);
  EXPECT_EQ(layout->slot_of(4), 1);
  EXPECT_EQ(layout->Describe(),
            "3 groups: global x2 layers [0 2], window 128 x2 layers [1 4], "
            "window 64 x1 layers [3]");
}

TEST(KvLayoutTest, LlamaLikeAllGlobalHasOneGroup) {
  auto layout = KvLayout::Make(std::vector<int32_t>(4, 0), {}, 1024, 64);
  ASSERT_TRUE(layout.ok()) << layout.status().message();
  ASSERT_EQ(layout->num_groups(), 1);
  EXPECT_EQ(layout->groups()[0].window, 0);
  EXPECT_EQ(layout->groups()[0].owner_layers, (std::vector<int32_t>{0, 1, 2, 3}));
  for (int32_t l = 0; l < 4; ++l) {
    EXPECT_EQ(layout->group_of(l), 0);
    EXPECT_EQ(layout->slot_of(l), l);
  }
  EXPECT_EQ(layout->Describe(), "1 group: global x4 layers [0 1 2 3]");
}

TEST(KvLayoutTest, SharingLayersAllocateNothingAndResolveToTheirOwner) {
  auto owners = ParseKvSharing("1:0,3:2,11:5", 12);
  ASSERT_TRUE(owners.ok()) << owners.status().message();
  auto layout = KvLayout::Make(GemmaWindows(12, 512), *owners, 256, 256);
  ASSERT_TRUE(layout.ok()) << layout.status().message();
  ASSERT_EQ(layout->num_groups(), 2);
  EXPECT_EQ(layout->groups()[0].owner_layers, (std::vector<int32_t>{0, 2, 4, 6, 7, 8, 9, 10}));
  EXPECT_EQ(layout->groups()[1].owner_layers, (std::vector<int32_t>{5}));
  EXPECT_EQ(layout->num_owner_layers(), 9);
  EXPECT_FALSE(layout->is_owner(3));
  EXPECT_EQ(layout->owner(3), 2);
  EXPECT_EQ(layout->group_of(3), layout->group_of(2));
  EXPECT_EQ(layout->slot_of(3), layout->slot_of(2));
  EXPECT_EQ(layout->slot_of(2), 1);
  EXPECT_EQ(layout->slot_of(1), 0);
  EXPECT_EQ(layout->group_of(11), 1);
  EXPECT_EQ(layout->slot_of(11), 0);
  EXPECT_EQ(layout->slot_of(4), 2);  // slots count owners only
  EXPECT_EQ(layout->Describe(),
            "2 groups: window 512 x8 layers [0 2 4 6 7 8 9 10], global x1 layers [5]; "
            "sharing 1:0 3:2 11:5");
}

TEST(KvLayoutTest, RejectsBadShapes) {
  ExpectInvalid(KvLayout::Make({}, {}, 8, 8), "no layers");
  ExpectInvalid(KvLayout::Make({0, 0}, {}, 0, 1), "kv_dim");
  ExpectInvalid(KvLayout::Make({0, 0}, {}, 192, 0), "head_dim 0 does not divide kv_dim 192");
  ExpectInvalid(KvLayout::Make({0, 0}, {}, 192, 128), "head_dim 128 does not divide kv_dim 192");
  ExpectInvalid(KvLayout::Make({0, 0, 0}, {0, 1}, 8, 8), "3 layer windows but 2 KV owners");
  ExpectInvalid(KvLayout::Make({0, -4}, {}, 8, 8), "layer 1 has a negative window");
}

TEST(KvLayoutTest, RejectsLaterOwner) {
  auto layout = KvLayout::Make(std::vector<int32_t>(6, 0), {0, 1, 2, 5, 4, 5}, 8, 8);
  ASSERT_FALSE(layout.ok());
  EXPECT_EQ(layout.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(layout.status().message(),
            "kv sharing: layer 3 cannot use layer 5's KV (owners must be earlier layers)");
}

TEST(KvLayoutTest, RejectsOwnerOutOfRange) {
  ExpectInvalid(KvLayout::Make({0, 0, 0}, {0, 7, 2}, 8, 8),
                "layer 1 cannot use layer 7's KV (out of range");
  ExpectInvalid(KvLayout::Make({0, 0, 0}, {0, 1, -1}, 8, 8),
                "layer 2 cannot use layer -1's KV (out of range");
}

TEST(KvLayoutTest, RejectsOwnerThatItselfShares) {
  ExpectInvalid(KvLayout::Make({0, 0, 0}, {0, 0, 1}, 8, 8),
                "layer 2 cannot use layer 1's KV (layer 1 itself uses layer 0's KV)");
}

TEST(KvLayoutTest, RejectsOwnerWithAnotherSpan) {
  ExpectInvalid(KvLayout::Make({512, 512, 0}, {0, 1, 1}, 8, 8),
                "layer 2 cannot use layer 1's KV (layer 2 is global, layer 1 is window 512)");
  ExpectInvalid(KvLayout::Make({512, 1024}, {0, 0}, 8, 8),
                "layer 1 cannot use layer 0's KV (layer 1 is window 1024, layer 0 is window 512)");
}

TEST(ParseKvSharingTest, ParsesMaps) {
  auto owners = ParseKvSharing("3:2,5:4", 6);
  ASSERT_TRUE(owners.ok()) << owners.status().message();
  EXPECT_EQ(*owners, (std::vector<int32_t>{0, 1, 2, 2, 4, 4}));
  owners = ParseKvSharing(" 5 : 4 , 3:2 ", 6);
  ASSERT_TRUE(owners.ok()) << owners.status().message();
  EXPECT_EQ(*owners, (std::vector<int32_t>{0, 1, 2, 2, 4, 4}));
  owners = ParseKvSharing("", 3);
  ASSERT_TRUE(owners.ok());
  EXPECT_EQ(*owners, (std::vector<int32_t>{0, 1, 2}));
  owners = ParseKvSharing("2:2", 3);  // a layer that names itself keeps its own KV
  ASSERT_TRUE(owners.ok());
  EXPECT_EQ(*owners, (std::vector<int32_t>{0, 1, 2}));
}

TEST(ParseKvSharingTest, RejectsGarbage) {
  for (const char* spec : {"3", "3:", ":2", "a:b", "3:2,", ",3:2", "3:2,,5:4", "3:-1", "-3:1",
                           "3:2:1", "3;2", "3:2x", "0x3:1", "99999999999:1"}) {
    auto owners = ParseKvSharing(spec, 6);
    ASSERT_FALSE(owners.ok()) << spec;
    EXPECT_EQ(owners.status().code(), StatusCode::kInvalidArgument) << spec;
    EXPECT_NE(owners.status().message().find("bad entry"), std::string::npos)
        << spec << ": " << owners.status().message();
  }
}

TEST(ParseKvSharingTest, RejectsOutOfRangeAndDuplicates) {
  auto owners = ParseKvSharing("6:1", 6);
  ASSERT_FALSE(owners.ok());
  EXPECT_EQ(owners.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(owners.status().message().find("layer 6 is out of range (the model has 6 layers)"),
            std::string::npos)
      << owners.status().message();
  owners = ParseKvSharing("3:2,4:9", 6);
  ASSERT_FALSE(owners.ok());
  EXPECT_NE(owners.status().message().find("'4:9': layer 9 is out of range"), std::string::npos)
      << owners.status().message();
  owners = ParseKvSharing("3:2,5:4,3:1", 6);
  ASSERT_FALSE(owners.ok());
  EXPECT_EQ(owners.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(owners.status().message(), "kv sharing: layer 3 is listed twice");
}

TEST(ParseKvSharingTest, MakeChecksWhatTheParserCannot) {
  auto owners = ParseKvSharing("3:5", 6);  // well-formed, but the owner is later
  ASSERT_TRUE(owners.ok());
  auto layout = KvLayout::Make(std::vector<int32_t>(6, 0), *owners, 8, 8);
  ASSERT_FALSE(layout.ok());
  EXPECT_EQ(layout.status().message(),
            "kv sharing: layer 3 cannot use layer 5's KV (owners must be earlier layers)");
}

}  // namespace
}  // namespace parley
