// DiskTier: the prefix cache's third tier. Pages the host tier has no room for move here,
// already encoded (page_codec.h), one file each in a folder of this process's own under
// the directory given (`--disk-cache-dir`), bounded in bytes. A read checks the length and
// an XXH3 checksum, so a file damaged or removed behind the server's back is a miss (the
// prefix is recomputed), never wrong K/V. The folder and its files are removed when the
// tier is destroyed; nothing is reused across restarts.
// File I/O goes through an Env (base/env.h): every failure (a write error, a full disk, a
// failed rename, a missing, short or corrupt read) leaves nothing stored, is counted by
// kind in faults(), and is a miss for the caller. A page is written to `<id>.tmp` and renamed
// to `<id>.kv`, so a `.kv` file is always whole. Nothing is fsynced: the tier is not kept
// across restarts. A write is refused when the filesystem would keep less than
// `min_free_bytes` free, so the tier never fills a shared disk.
// Not thread-safe: owned by the engine thread. Reads and writes are synchronous.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/env.h"
#include "base/status.h"

namespace parley {

// Failures by kind, each a page not stored or not read back (a miss).
struct DiskTierFaults {
  int64_t write_failed = 0;   // the file could not be created, written (short writes too) or closed
  int64_t no_space = 0;       // ENOSPC, or less free space than the page plus the reserve
  int64_t rename_failed = 0;  // the written file could not be renamed into place
  int64_t read_failed = 0;    // an I/O error reading
  int64_t read_missing = 0;   // the file was gone
  int64_t read_size = 0;      // shorter (or longer) than written
  int64_t read_corrupt = 0;   // the right length, the wrong checksum
  int64_t writes() const { return write_failed + no_space + rename_failed; }
  int64_t reads() const { return read_failed + read_missing + read_size + read_corrupt; }
};

class DiskTier {
 public:
  static constexpr int64_t kDefaultMinFreeBytes = int64_t{64} << 20;

  // Creates `dir` if needed and a folder of this process's in it. REQUIRES: `env` outlives
  // the tier.
  static StatusOr<std::unique_ptr<DiskTier>> Open(const std::string& dir, int64_t budget_bytes,
                                                   Env* env = Env::Default(),
                                                   int64_t min_free_bytes = kDefaultMinFreeBytes);
  ~DiskTier();
  DiskTier(const DiskTier&) = delete;
  DiskTier& operator=(const DiskTier&) = delete;

  // Writes one encoded page. Returns its id, or -1 when it does not fit in the budget or the
  // write failed (nothing stored; faults() counts failures, budget refusals are not faults).
  int64_t Put(std::span<const uint8_t> blob);
  // Reads a page back. Errors: the file is missing, unreadable, short or fails its checksum
  // (the page is then dropped from the tier and the fault counted).
  Status Get(int64_t id, std::vector<uint8_t>* blob);
  void Drop(int64_t id);
  bool Contains(int64_t id) const { return entries_.count(id) != 0; }

  const std::string& path() const { return path_; }
  int64_t budget_bytes() const { return budget_; }
  int64_t bytes_used() const { return used_; }
  int64_t num_pages() const { return static_cast<int64_t>(entries_.size()); }
  const DiskTierFaults& faults() const { return faults_; }
  int64_t write_errors() const { return faults_.writes(); }
  int64_t read_errors() const { return faults_.reads(); }

 private:
  DiskTier(Env* env, std::string path, int64_t budget_bytes, int64_t min_free_bytes)
      : env_(env), path_(std::move(path)), budget_(budget_bytes), min_free_(min_free_bytes) {}
  std::string FileOf(int64_t id) const;
  // Writes `blob` to the file of `id`; false (nothing left behind, the fault counted) on failure.
  bool Write(int64_t id, std::span<const uint8_t> blob);

  struct Entry {
    int64_t size;
    uint64_t checksum;
  };
  Env* env_;
  std::string path_;
  int64_t budget_;
  int64_t min_free_;
  int64_t used_ = 0;
  int64_t next_id_ = 0;
  DiskTierFaults faults_;
  std::unordered_map<int64_t, Entry> entries_;
};

}  // namespace parley
