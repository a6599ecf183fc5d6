#include "prefix_cache/disk_tier.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>

namespace parley {
namespace {

std::string TestDir(const std::string& name) { return ::testing::TempDir() + "/parley-disk-tier-" + name; }

std::vector<uint8_t> Blob(size_t n, uint8_t seed) {
  std::vector<uint8_t> b(n);
  for (size_t i = 0; i < n; ++i) b[i] = static_cast<uint8_t>(seed + i * 7);
  return b;
}

TEST(DiskTierTest, PagesRoundTripAndTheFolderGoesWithTheTier) {
  std::string path;
  {
    auto tier = DiskTier::Open(TestDir("round"), 1 << 20);
    ASSERT_TRUE(tier.ok()) << tier.status().message();
    path = (*tier)->path();
    EXPECT_TRUE(std::filesystem::is_directory(path));
    const int64_t a = (*tier)->Put(Blob(1000, 1));
    const int64_t b = (*tier)->Put(Blob(10, 2));
    ASSERT_GE(a, 0);
    ASSERT_GE(b, 0);
    EXPECT_EQ((*tier)->bytes_used(), 1010);
    std::vector<uint8_t> back;
    ASSERT_TRUE((*tier)->Get(a, &back).ok());
    EXPECT_EQ(back, Blob(1000, 1));
    ASSERT_TRUE((*tier)->Get(b, &back).ok());
    EXPECT_EQ(back, Blob(10, 2));
    (*tier)->Drop(a);
    EXPECT_FALSE((*tier)->Contains(a));
    EXPECT_EQ((*tier)->bytes_used(), 10);
    EXPECT_EQ((*tier)->num_pages(), 1);
  }
  EXPECT_FALSE(std::filesystem::exists(path));
}

TEST(DiskTierTest, TheBudgetBoundsWhatItTakes) {
  auto tier = std::move(DiskTier::Open(TestDir("budget"), 2500).value());
  EXPECT_GE(tier->Put(Blob(1000, 1)), 0);
  EXPECT_GE(tier->Put(Blob(1000, 2)), 0);
  EXPECT_EQ(tier->Put(Blob(1000, 3)), -1);
  EXPECT_EQ(tier->num_pages(), 2);
  EXPECT_EQ(tier->write_errors(), 0);
}

TEST(DiskTierTest, ADamagedOrMissingFileIsAnErrorAndDropsThePage) {
  auto tier = std::move(DiskTier::Open(TestDir("damaged"), 1 << 20).value());
  const int64_t a = tier->Put(Blob(100, 1));
  const int64_t b = tier->Put(Blob(100, 2));
  const int64_t c = tier->Put(Blob(100, 3));
  std::FILE* f = std::fopen((tier->path() + "/" + std::to_string(a) + ".kv").c_str(), "r+b");
  ASSERT_NE(f, nullptr);
  std::fputc(0xFF, f);
  std::fclose(f);
  std::filesystem::remove(tier->path() + "/" + std::to_string(b) + ".kv");
  f = std::fopen((tier->path() + "/" + std::to_string(c) + ".kv").c_str(), "ab");
  std::fputc(0, f);  // one byte too many
  std::fclose(f);
  std::vector<uint8_t> back;
  for (int64_t id : {a, b, c}) {
    EXPECT_FALSE(tier->Get(id, &back).ok());
    EXPECT_FALSE(tier->Contains(id));
  }
  EXPECT_EQ(tier->read_errors(), 3);
  EXPECT_EQ(tier->bytes_used(), 0);
}

TEST(DiskTierTest, BadDirectoriesAndBudgetsAreRefused) {
  const std::string file = TestDir("a-file");
  std::FILE* f = std::fopen(file.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  std::fclose(f);
  EXPECT_FALSE(DiskTier::Open(file + "/sub", 1 << 20).ok());  // under a regular file
  EXPECT_FALSE(DiskTier::Open("", 1 << 20).ok());
  EXPECT_FALSE(DiskTier::Open(TestDir("zero"), 0).ok());
}

}  // namespace
}  // namespace parley
