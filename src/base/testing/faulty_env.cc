#include "base/testing/faulty_env.h"

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <system_error>

namespace parley {

class FaultyWritableFile final : public WritableFile {
 public:
  FaultyWritableFile(FaultyEnv* env, std::unique_ptr<WritableFile> base)
      : env_(env), base_(std::move(base)) {}

  int Append(std::span<const uint8_t> data) override {
    using Fault = FaultyEnv::Fault;
    if (env_->Fire(Fault::kWriteFails)) return EIO;
    if (env_->Fire(Fault::kNoSpace)) return ENOSPC;
    const bool short_write = env_->Fire(Fault::kShortWrite);
    const bool torn = !short_write && env_->Fire(Fault::kTornWrite);
    const size_t want = short_write || torn ? data.size() / 2 : data.size();
    const size_t fits = env_->TakeSpace(want);
    if (const int err = base_->Append(data.first(fits)); err != 0) return err;
    if (fits < want) return ENOSPC;
    return short_write ? EIO : 0;
  }
  int Sync() override { return env_->Fire(FaultyEnv::Fault::kSyncFails) ? EIO : base_->Sync(); }
  int Close() override {
    const int err = base_->Close();
    return err == 0 && env_->Fire(FaultyEnv::Fault::kCloseFails) ? EIO : err;
  }

 private:
  FaultyEnv* env_;
  std::unique_ptr<WritableFile> base_;
};

void FaultyEnv::Inject(Fault fault, int times) {
  std::lock_guard<std::mutex> lock(mu_);
  armed_[fault] = times;
}

void FaultyEnv::Clear() {
  std::lock_guard<std::mutex> lock(mu_);
  armed_.clear();
  free_bytes_ = -1;
}

void FaultyEnv::set_free_bytes(int64_t bytes) {
  std::lock_guard<std::mutex> lock(mu_);
  free_bytes_ = bytes;
}

int64_t FaultyEnv::fired(Fault fault) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = fired_.find(fault);
  return it == fired_.end() ? 0 : it->second;
}

bool FaultyEnv::Fire(Fault fault) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = armed_.find(fault);
  if (it == armed_.end() || it->second == 0) return false;
  if (it->second > 0) --it->second;
  ++fired_[fault];
  return true;
}

size_t FaultyEnv::TakeSpace(size_t n) {
  std::lock_guard<std::mutex> lock(mu_);
  if (free_bytes_ < 0) return n;
  const size_t fits = std::min<size_t>(n, static_cast<size_t>(free_bytes_));
  free_bytes_ -= static_cast<int64_t>(fits);
  return fits;
}

int FaultyEnv::NewWritableFile(const std::string& path, std::unique_ptr<WritableFile>* out) {
  if (Fire(Fault::kOpenFails)) return EACCES;
  std::unique_ptr<WritableFile> file;
  if (const int err = base_->NewWritableFile(path, &file); err != 0) return err;
  *out = std::make_unique<FaultyWritableFile>(this, std::move(file));
  return 0;
}

int FaultyEnv::ReadFile(const std::string& path, size_t limit, std::vector<uint8_t>* out) {
  if (Fire(Fault::kVanished)) base_->Remove(path);
  if (Fire(Fault::kReadFails)) {
    out->clear();
    return EIO;
  }
  if (const int err = base_->ReadFile(path, limit, out); err != 0) return err;
  if (Fire(Fault::kShortRead)) out->resize(out->size() / 2);
  if (!out->empty() && Fire(Fault::kCorruptRead)) (*out)[out->size() / 2] ^= 0x40;
  return 0;
}

int FaultyEnv::Rename(const std::string& from, const std::string& to) {
  return Fire(Fault::kRenameFails) ? EIO : base_->Rename(from, to);
}

int FaultyEnv::Remove(const std::string& path) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  const int err = base_->Remove(path);
  if (err == 0 && !ec) {
    std::lock_guard<std::mutex> lock(mu_);
    if (free_bytes_ >= 0) free_bytes_ += static_cast<int64_t>(size);
  }
  return err;
}

int64_t FaultyEnv::FreeBytes(const std::string& path) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (free_bytes_ >= 0) return free_bytes_;
  }
  return base_->FreeBytes(path);
}

}  // namespace parley
