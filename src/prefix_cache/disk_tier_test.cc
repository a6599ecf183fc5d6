#include "prefix_cache/disk_tier.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>

#include "base/testing/faulty_env.h"

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

// The fault matrix: each injected fault leaves nothing stored (or drops the page read), is
// counted under its kind, and leaves the tier working for the next page.
using Fault = FaultyEnv::Fault;

struct FaultCase {
  Fault fault;
  bool on_read;  // injected before Get (else before Put)
  int64_t DiskTierFaults::*counter;
};

std::vector<std::string> FilesIn(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(dir)) out.push_back(e.path().filename());
  return out;
}

TEST(DiskTierFaultTest, EveryFaultIsAMissCountedByKindAndTheTierGoesOn) {
  const FaultCase cases[] = {
      {Fault::kOpenFails, false, &DiskTierFaults::write_failed},
      {Fault::kWriteFails, false, &DiskTierFaults::write_failed},
      {Fault::kShortWrite, false, &DiskTierFaults::write_failed},
      {Fault::kCloseFails, false, &DiskTierFaults::write_failed},
      {Fault::kNoSpace, false, &DiskTierFaults::no_space},
      {Fault::kRenameFails, false, &DiskTierFaults::rename_failed},
      {Fault::kTornWrite, true, &DiskTierFaults::read_size},  // the lie is caught on read
      {Fault::kReadFails, true, &DiskTierFaults::read_failed},
      {Fault::kShortRead, true, &DiskTierFaults::read_size},
      {Fault::kCorruptRead, true, &DiskTierFaults::read_corrupt},
      {Fault::kVanished, true, &DiskTierFaults::read_missing},
  };
  int i = 0;
  for (const FaultCase& c : cases) {
    SCOPED_TRACE("case " + std::to_string(i));
    FaultyEnv env;
    auto tier = std::move(DiskTier::Open(TestDir("fault-" + std::to_string(i++)), 1 << 20, &env, 0).value());
    const int64_t kept = tier->Put(Blob(300, 9));  // a page stored before the fault
    ASSERT_GE(kept, 0);
    std::vector<uint8_t> back;
    const bool torn = c.fault == Fault::kTornWrite;
    if (!c.on_read || torn) env.Inject(c.fault);
    const int64_t id = tier->Put(Blob(200, 1));
    if (!c.on_read) {
      EXPECT_EQ(id, -1);
      EXPECT_EQ(tier->faults().writes(), 1);
    } else {
      ASSERT_GE(id, 0);
      if (!torn) env.Inject(c.fault);
      EXPECT_FALSE(tier->Get(id, &back).ok());
      EXPECT_FALSE(tier->Contains(id));
      EXPECT_EQ(tier->faults().reads(), 1);
    }
    EXPECT_EQ(env.fired(c.fault), 1);
    EXPECT_EQ(tier->faults().*c.counter, 1);
    EXPECT_EQ(tier->num_pages(), 1);
    EXPECT_EQ(tier->bytes_used(), 300);
    EXPECT_EQ(FilesIn(tier->path()), std::vector<std::string>{std::to_string(kept) + ".kv"});  // no debris
    // The page stored before is intact, and the next page goes in and comes back.
    ASSERT_TRUE(tier->Get(kept, &back).ok());
    EXPECT_EQ(back, Blob(300, 9));
    const int64_t next = tier->Put(Blob(100, 5));
    ASSERT_GE(next, 0);
    ASSERT_TRUE(tier->Get(next, &back).ok());
    EXPECT_EQ(back, Blob(100, 5));
  }
}

TEST(DiskTierFaultTest, AFillingDiskIsRefusedBeforeTheReserveAndAtEnospc) {
  FaultyEnv env;
  env.set_free_bytes(1000);
  // A reserve of 300 bytes: pages go in while 300 bytes would stay free.
  auto tier = std::move(DiskTier::Open(TestDir("fill"), 1 << 20, &env, 300).value());
  EXPECT_GE(tier->Put(Blob(400, 1)), 0);  // 600 left
  EXPECT_GE(tier->Put(Blob(300, 2)), 0);  // 300 left
  EXPECT_EQ(tier->Put(Blob(1, 3)), -1);   // would go below the reserve
  EXPECT_EQ(tier->faults().no_space, 1);
  EXPECT_EQ(env.FreeBytes(tier->path()), 300);  // nothing was written
  // A second tier on the same disk, without a reserve, may take what is left, and no more.
  auto greedy = std::move(DiskTier::Open(TestDir("fill-greedy"), 1 << 20, &env, 0).value());
  EXPECT_EQ(greedy->Put(Blob(250, 4)), 0);
  EXPECT_EQ(greedy->Put(Blob(100, 5)), -1);
  EXPECT_EQ(greedy->faults().no_space, 1);
  EXPECT_EQ(env.FreeBytes(tier->path()), 50);
  EXPECT_EQ(FilesIn(greedy->path()), std::vector<std::string>{"0.kv"});
  // Space freed is usable again.
  greedy->Drop(0);
  EXPECT_EQ(env.FreeBytes(tier->path()), 300);
  EXPECT_GE(greedy->Put(Blob(250, 6)), 0);
  EXPECT_EQ(tier->num_pages(), 2);
  EXPECT_EQ(tier->bytes_used(), 700);
}

}  // namespace
}  // namespace parley
