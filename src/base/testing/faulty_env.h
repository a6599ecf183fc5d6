// FaultyEnv: an Env over real files (another Env, by default Env::Default()) that makes
// chosen operations fail, for tests of the code above an Env: write errors, short and torn
// writes, a full disk, failed syncs and renames, failed, short, corrupt and vanished reads.
// Faults are armed per kind: the next `times` operations of that kind fail (or all of them,
// until Clear()). Thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "base/env.h"

namespace parley {

class FaultyEnv final : public Env {
 public:
  enum class Fault {
    kOpenFails,    // NewWritableFile: EACCES, no file
    kWriteFails,   // Append: EIO, nothing written
    kShortWrite,   // Append: the first half written, then EIO
    kTornWrite,    // Append: the first half written, reported as success (a lying disk)
    kNoSpace,      // Append: ENOSPC, nothing written
    kSyncFails,    // Sync: EIO
    kCloseFails,   // Close: EIO (the data is written)
    kRenameFails,  // Rename: EIO, nothing renamed
    kReadFails,    // ReadFile: EIO, nothing read
    kShortRead,    // ReadFile: only the first half of what the file holds
    kCorruptRead,  // ReadFile: one byte of what was read flipped (the file is intact)
    kVanished,     // ReadFile: the file is removed first, as by another process (ENOENT)
  };

  explicit FaultyEnv(Env* base = Env::Default()) : base_(base) {}

  // The next `times` operations `fault` applies to fail with it.
  void Inject(Fault fault, int times = 1);
  // Every such operation fails until Clear().
  void InjectAlways(Fault fault) { Inject(fault, -1); }
  // Disarms every fault and the free-space limit.
  void Clear();
  // A filesystem with `bytes` free: FreeBytes() reports it, an Append beyond it writes what
  // fits and fails with ENOSPC, Remove() gives a file's bytes back. -1: the real one's.
  void set_free_bytes(int64_t bytes);
  // How many operations `fault` has failed so far.
  int64_t fired(Fault fault) const;

  int NewWritableFile(const std::string& path, std::unique_ptr<WritableFile>* out) override;
  int ReadFile(const std::string& path, size_t limit, std::vector<uint8_t>* out) override;
  int Rename(const std::string& from, const std::string& to) override;
  int Remove(const std::string& path) override;
  int CreateDirs(const std::string& path) override { return base_->CreateDirs(path); }
  int CreateDir(const std::string& path) override { return base_->CreateDir(path); }
  int RemoveAll(const std::string& path) override { return base_->RemoveAll(path); }
  int64_t FreeBytes(const std::string& path) override;

 private:
  friend class FaultyWritableFile;
  // True (and the fault counted as fired) when `fault` is armed.
  bool Fire(Fault fault);
  // How many of `n` bytes fit in the simulated free space (all of them when none is set);
  // takes them from it.
  size_t TakeSpace(size_t n);

  Env* base_;
  mutable std::mutex mu_;
  std::map<Fault, int> armed_;  // remaining count; -1: always
  std::map<Fault, int64_t> fired_;
  int64_t free_bytes_ = -1;
};

}  // namespace parley
