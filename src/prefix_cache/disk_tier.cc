#include "prefix_cache/disk_tier.h"

#include <unistd.h>
#include <xxhash.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <system_error>

#include "base/check.h"

namespace parley {
namespace fs = std::filesystem;

StatusOr<std::unique_ptr<DiskTier>> DiskTier::Open(const std::string& dir, int64_t budget_bytes) {
  if (dir.empty()) return Status::InvalidArgument("the disk cache directory is empty");
  if (budget_bytes <= 0) return Status::InvalidArgument("the disk cache budget must be > 0");
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Status::Error("cannot create the disk cache directory " + dir + ": " + ec.message());
  const auto now = std::chrono::steady_clock::now().time_since_epoch().count();
  const std::string path =
      (fs::path(dir) / ("parley-kv-" + std::to_string(getpid()) + "-" + std::to_string(now % 1000000007))).string();
  if (!fs::create_directory(path, ec) || ec) {
    return Status::Error("cannot create the disk cache folder " + path + (ec ? ": " + ec.message() : ""));
  }
  return std::unique_ptr<DiskTier>(new DiskTier(path, budget_bytes));
}

DiskTier::~DiskTier() {
  std::error_code ec;
  fs::remove_all(path_, ec);  // best effort: nothing to report to at shutdown
}

std::string DiskTier::FileOf(int64_t id) const { return path_ + "/" + std::to_string(id) + ".kv"; }

int64_t DiskTier::Put(std::span<const uint8_t> blob) {
  const int64_t size = static_cast<int64_t>(blob.size());
  if (used_ + size > budget_) return -1;
  const int64_t id = next_id_++;
  const std::string file = FileOf(id);
  FILE* f = std::fopen(file.c_str(), "wb");
  bool ok = f != nullptr;
  if (ok) ok = std::fwrite(blob.data(), 1, blob.size(), f) == blob.size();
  if (f != nullptr) ok = std::fclose(f) == 0 && ok;
  if (!ok) {
    std::remove(file.c_str());
    ++write_errors_;
    return -1;
  }
  entries_.emplace(id, Entry{size, XXH3_64bits(blob.data(), blob.size())});
  used_ += size;
  return id;
}

Status DiskTier::Get(int64_t id, std::vector<uint8_t>* blob) {
  auto it = entries_.find(id);
  PARLEY_CHECK(it != entries_.end()) << "disk tier page " << id << " is not stored";
  const std::string file = FileOf(id);
  blob->resize(static_cast<size_t>(it->second.size));
  FILE* f = std::fopen(file.c_str(), "rb");
  size_t n = 0;
  if (f != nullptr) {
    n = std::fread(blob->data(), 1, blob->size(), f);
    if (n == blob->size() && std::fgetc(f) != EOF) n = 0;  // longer than written
    std::fclose(f);
  }
  if (n != blob->size() || XXH3_64bits(blob->data(), blob->size()) != it->second.checksum) {
    ++read_errors_;
    Drop(id);
    return Status::Error("disk cache page " + file + " is missing or damaged");
  }
  return Status::Ok();
}

void DiskTier::Drop(int64_t id) {
  auto it = entries_.find(id);
  PARLEY_CHECK(it != entries_.end()) << "disk tier page " << id << " is not stored";
  std::remove(FileOf(id).c_str());
  used_ -= it->second.size;
  entries_.erase(it);
}

}  // namespace parley
