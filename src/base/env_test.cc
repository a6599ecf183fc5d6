// Env::Default() against the real file system, and FaultyEnv's faults as the layers above
// see them.
#include "base/env.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <filesystem>

#include "base/testing/faulty_env.h"

namespace parley {
namespace {

std::string Dir(const std::string& name) {
  const std::string d = ::testing::TempDir() + "/parley-env-" + name;
  std::filesystem::remove_all(d);
  return d;
}

std::vector<uint8_t> Bytes(size_t n) {
  std::vector<uint8_t> b(n);
  for (size_t i = 0; i < n; ++i) b[i] = static_cast<uint8_t>(i * 13 + 1);
  return b;
}

int Write(Env* env, const std::string& path, const std::vector<uint8_t>& data) {
  std::unique_ptr<WritableFile> f;
  int err = env->NewWritableFile(path, &f);
  if (err == 0) err = f->Append(data);
  if (err == 0) err = f->Sync();
  if (f != nullptr && err == 0) err = f->Close();
  return err;
}

TEST(EnvTest, PosixFilesRoundTripRenameAndGo) {
  Env* env = Env::Default();
  const std::string dir = Dir("posix");
  ASSERT_EQ(env->CreateDirs(dir + "/a/b"), 0);
  EXPECT_EQ(env->CreateDirs(dir + "/a/b"), 0);  // already there
  EXPECT_EQ(env->CreateDir(dir + "/a"), EEXIST);
  const std::string file = dir + "/a/b/f";
  ASSERT_EQ(Write(env, file, Bytes(5000)), 0);
  std::vector<uint8_t> back;
  ASSERT_EQ(env->ReadFile(file, 6000, &back), 0);
  EXPECT_EQ(back, Bytes(5000));
  ASSERT_EQ(env->ReadFile(file, 10, &back), 0);  // at most `limit`
  EXPECT_EQ(back.size(), 10u);
  ASSERT_EQ(env->Rename(file, dir + "/g"), 0);
  EXPECT_EQ(env->ReadFile(file, 10, &back), ENOENT);
  EXPECT_EQ(env->Remove(dir + "/g"), 0);
  EXPECT_EQ(env->Remove(dir + "/g"), ENOENT);
  EXPECT_GT(env->FreeBytes(dir), 0);
  EXPECT_LT(env->FreeBytes(dir + "/no/such/dir"), 0);
  EXPECT_EQ(env->RemoveAll(dir), 0);
  EXPECT_FALSE(std::filesystem::exists(dir));
  EXPECT_FALSE(ErrnoText(ENOSPC).empty());
}

TEST(EnvTest, FaultyEnvFailsWhatItIsToldToAndNothingElse) {
  FaultyEnv env;
  const std::string dir = Dir("faulty");
  ASSERT_EQ(env.CreateDirs(dir), 0);
  const std::string file = dir + "/f";
  std::vector<uint8_t> back;

  env.Inject(FaultyEnv::Fault::kWriteFails);
  EXPECT_EQ(Write(&env, file, Bytes(100)), EIO);
  EXPECT_EQ(Write(&env, file, Bytes(100)), 0);  // armed once
  EXPECT_EQ(env.fired(FaultyEnv::Fault::kWriteFails), 1);

  env.Inject(FaultyEnv::Fault::kShortWrite);
  EXPECT_EQ(Write(&env, file, Bytes(100)), EIO);
  ASSERT_EQ(env.ReadFile(file, 1000, &back), 0);
  EXPECT_EQ(back.size(), 50u);

  env.Inject(FaultyEnv::Fault::kTornWrite);
  EXPECT_EQ(Write(&env, file, Bytes(100)), 0);  // the lie
  ASSERT_EQ(env.ReadFile(file, 1000, &back), 0);
  EXPECT_EQ(back.size(), 50u);

  env.set_free_bytes(70);
  EXPECT_EQ(env.FreeBytes(dir), 70);
  EXPECT_EQ(Write(&env, dir + "/big", Bytes(100)), ENOSPC);  // 70 bytes fit, then the disk is full
  EXPECT_EQ(env.FreeBytes(dir), 0);
  EXPECT_EQ(env.Remove(dir + "/big"), 0);
  EXPECT_EQ(env.FreeBytes(dir), 70);  // given back
  env.Clear();
  EXPECT_GT(env.FreeBytes(dir), 70);

  env.InjectAlways(FaultyEnv::Fault::kNoSpace);
  EXPECT_EQ(Write(&env, file, Bytes(10)), ENOSPC);
  EXPECT_EQ(Write(&env, file, Bytes(10)), ENOSPC);
  env.Clear();

  ASSERT_EQ(Write(&env, file, Bytes(100)), 0);
  env.Inject(FaultyEnv::Fault::kRenameFails);
  EXPECT_EQ(env.Rename(file, dir + "/g"), EIO);
  env.Inject(FaultyEnv::Fault::kReadFails);
  EXPECT_EQ(env.ReadFile(file, 1000, &back), EIO);
  env.Inject(FaultyEnv::Fault::kShortRead);
  ASSERT_EQ(env.ReadFile(file, 1000, &back), 0);
  EXPECT_EQ(back.size(), 50u);
  env.Inject(FaultyEnv::Fault::kCorruptRead);
  ASSERT_EQ(env.ReadFile(file, 1000, &back), 0);
  EXPECT_EQ(back.size(), 100u);
  EXPECT_NE(back, Bytes(100));
  ASSERT_EQ(env.ReadFile(file, 1000, &back), 0);  // the file itself is intact
  EXPECT_EQ(back, Bytes(100));
  env.Inject(FaultyEnv::Fault::kVanished);
  EXPECT_EQ(env.ReadFile(file, 1000, &back), ENOENT);
  EXPECT_FALSE(std::filesystem::exists(file));
  env.Inject(FaultyEnv::Fault::kOpenFails);
  std::unique_ptr<WritableFile> f;
  EXPECT_EQ(env.NewWritableFile(file, &f), EACCES);
  EXPECT_EQ(f, nullptr);
  env.Inject(FaultyEnv::Fault::kSyncFails);
  env.Inject(FaultyEnv::Fault::kCloseFails);
  ASSERT_EQ(env.NewWritableFile(file, &f), 0);
  EXPECT_EQ(f->Sync(), EIO);
  EXPECT_EQ(f->Close(), EIO);
  EXPECT_EQ(env.RemoveAll(dir), 0);
}

}  // namespace
}  // namespace parley
