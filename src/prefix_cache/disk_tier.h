// DiskTier: the prefix cache's third tier. Pages the host tier has no room for move here,
// already encoded (page_codec.h), one file each in a folder of this process's own under
// the directory given (`--disk-cache-dir`), bounded in bytes. A read checks the length and
// an XXH3 checksum, so a file damaged or removed behind the server's back is a miss (the
// prefix is recomputed), never wrong K/V. The folder and its files are removed when the
// tier is destroyed; nothing is reused across restarts.
// Not thread-safe: owned by the engine thread. Reads and writes are synchronous.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/status.h"

namespace parley {

class DiskTier {
 public:
  // Creates `dir` if needed and a folder of this process's in it.
  static StatusOr<std::unique_ptr<DiskTier>> Open(const std::string& dir, int64_t budget_bytes);
  ~DiskTier();
  DiskTier(const DiskTier&) = delete;
  DiskTier& operator=(const DiskTier&) = delete;

  // Writes one encoded page. Returns its id, or -1 when it does not fit in the budget or the
  // write failed (nothing stored; write_errors() counts failures).
  int64_t Put(std::span<const uint8_t> blob);
  // Reads a page back. Errors: the file is missing, short or fails its checksum (the page
  // is then dropped from the tier).
  Status Get(int64_t id, std::vector<uint8_t>* blob);
  void Drop(int64_t id);
  bool Contains(int64_t id) const { return entries_.count(id) != 0; }

  const std::string& path() const { return path_; }
  int64_t budget_bytes() const { return budget_; }
  int64_t bytes_used() const { return used_; }
  int64_t num_pages() const { return static_cast<int64_t>(entries_.size()); }
  int64_t write_errors() const { return write_errors_; }
  int64_t read_errors() const { return read_errors_; }

 private:
  DiskTier(std::string path, int64_t budget_bytes) : path_(std::move(path)), budget_(budget_bytes) {}
  std::string FileOf(int64_t id) const;

  struct Entry {
    int64_t size;
    uint64_t checksum;
  };
  std::string path_;
  int64_t budget_;
  int64_t used_ = 0;
  int64_t next_id_ = 0;
  int64_t write_errors_ = 0;
  int64_t read_errors_ = 0;
  std::unordered_map<int64_t, Entry> entries_;
};

}  // namespace parley
