#include "prefix_cache/disk_tier.h"

#include <unistd.h>
#include <xxhash.h>

#include <cerrno>
#include <chrono>

#include "base/check.h"

namespace parley {

StatusOr<std::unique_ptr<DiskTier>> DiskTier::Open(const std::string& dir, int64_t budget_bytes,
                                                   Env* env, int64_t min_free_bytes) {
  if (dir.empty()) return Status::InvalidArgument("the disk cache directory is empty");
  if (budget_bytes <= 0) return Status::InvalidArgument("the disk cache budget must be > 0");
  if (const int err = env->CreateDirs(dir); err != 0) {
    return Status::Error("cannot create the disk cache directory " + dir + ": " + ErrnoText(err));
  }
  const auto now = std::chrono::steady_clock::now().time_since_epoch().count();
  const std::string path =
      dir + "/parley-kv-" + std::to_string(getpid()) + "-" + std::to_string(now % 1000000007);
  if (const int err = env->CreateDir(path); err != 0) {
    return Status::Error("cannot create the disk cache folder " + path + ": " + ErrnoText(err));
  }
  return std::unique_ptr<DiskTier>(new DiskTier(env, path, budget_bytes, min_free_bytes));
}

DiskTier::~DiskTier() {
  env_->RemoveAll(path_);  // best effort: nothing to report to at shutdown
}

std::string DiskTier::FileOf(int64_t id) const { return path_ + "/" + std::to_string(id) + ".kv"; }

bool DiskTier::Write(int64_t id, std::span<const uint8_t> blob) {
  const std::string file = FileOf(id);
  const std::string tmp = file + ".tmp";
  std::unique_ptr<WritableFile> f;
  int err = env_->NewWritableFile(tmp, &f);
  if (err == 0) err = f->Append(blob);
  if (f != nullptr) {
    const int closed = f->Close();
    if (err == 0) err = closed;
  }
  if (err != 0) {
    if (f != nullptr) env_->Remove(tmp);
    ++(err == ENOSPC ? faults_.no_space : faults_.write_failed);
    return false;
  }
  if (env_->Rename(tmp, file) != 0) {
    env_->Remove(tmp);
    ++faults_.rename_failed;
    return false;
  }
  return true;
}

int64_t DiskTier::Put(std::span<const uint8_t> blob) {
  const int64_t size = static_cast<int64_t>(blob.size());
  if (used_ + size > budget_) return -1;
  // A failed statvfs (negative) leaves the decision to the write itself.
  const int64_t free = env_->FreeBytes(path_);
  if (free >= 0 && free < size + min_free_) {
    ++faults_.no_space;
    return -1;
  }
  const int64_t id = next_id_++;
  if (!Write(id, blob)) return -1;
  entries_.emplace(id, Entry{size, XXH3_64bits(blob.data(), blob.size())});
  used_ += size;
  return id;
}

Status DiskTier::Get(int64_t id, std::vector<uint8_t>* blob) {
  auto it = entries_.find(id);
  PARLEY_CHECK(it != entries_.end()) << "disk tier page " << id << " is not stored";
  const std::string file = FileOf(id);
  const size_t size = static_cast<size_t>(it->second.size);
  // One byte more than written, so a file that grew is caught too.
  const int err = env_->ReadFile(file, size + 1, blob);
  const char* what = nullptr;
  if (err == ENOENT) {
    ++faults_.read_missing;
    what = "is missing";
  } else if (err != 0) {
    ++faults_.read_failed;
    what = "cannot be read";
  } else if (blob->size() != size) {
    ++faults_.read_size;
    what = "has the wrong length";
  } else if (XXH3_64bits(blob->data(), blob->size()) != it->second.checksum) {
    ++faults_.read_corrupt;
    what = "fails its checksum";
  }
  if (what != nullptr) {
    Drop(id);
    return Status::Error("disk cache page " + file + " " + what + (err != 0 ? ": " + ErrnoText(err) : ""));
  }
  return Status::Ok();
}

void DiskTier::Drop(int64_t id) {
  auto it = entries_.find(id);
  PARLEY_CHECK(it != entries_.end()) << "disk tier page " << id << " is not stored";
  env_->Remove(FileOf(id));
  used_ -= it->second.size;
  entries_.erase(it);
}

}  // namespace parley
