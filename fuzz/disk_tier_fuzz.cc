// Fuzzes the disk tier's reads: a page is stored through DiskTier (into an in-memory Env),
// then the input decides what the "disk" gives back — other bytes, the file cut short or
// grown, one byte flipped, the file gone, or the file as written. A read must then either
// fail (the page dropped from the tier, the fault counted, nothing left behind) or return
// exactly the bytes stored, which decode to exactly the page encoded; never a crash, never
// wrong K/V.
// Input: [0] codec and shape, [1] what the disk does, [2..] page bytes (cycled) and, for
// the replacing mode, the file's new contents.
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "base/env.h"
#include "prefix_cache/disk_tier.h"
#include "prefix_cache/page_codec.h"

namespace {

// Files as byte vectors in a map: no disk I/O, every path this process's alone.
class MemEnv final : public parley::Env {
 public:
  std::map<std::string, std::vector<uint8_t>> files;

  class File final : public parley::WritableFile {
   public:
    File(MemEnv* env, std::string path) : env_(env), path_(std::move(path)) {}
    int Append(std::span<const uint8_t> data) override {
      std::vector<uint8_t>& f = env_->files[path_];
      f.insert(f.end(), data.begin(), data.end());
      return 0;
    }
    int Sync() override { return 0; }
    int Close() override { return 0; }

   private:
    MemEnv* env_;
    std::string path_;
  };

  int NewWritableFile(const std::string& path, std::unique_ptr<parley::WritableFile>* out) override {
    files[path].clear();
    *out = std::make_unique<File>(this, path);
    return 0;
  }
  int ReadFile(const std::string& path, size_t limit, std::vector<uint8_t>* out) override {
    auto it = files.find(path);
    if (it == files.end()) return ENOENT;
    out->assign(it->second.begin(), it->second.begin() + std::min(limit, it->second.size()));
    return 0;
  }
  int Rename(const std::string& from, const std::string& to) override {
    auto it = files.find(from);
    if (it == files.end()) return ENOENT;
    std::vector<uint8_t> bytes = std::move(it->second);
    files.erase(it);
    files[to] = std::move(bytes);
    return 0;
  }
  int Remove(const std::string& path) override { return files.erase(path) == 1 ? 0 : ENOENT; }
  int CreateDirs(const std::string&) override { return 0; }
  int CreateDir(const std::string&) override { return 0; }
  int RemoveAll(const std::string& path) override {
    for (auto it = files.lower_bound(path); it != files.end() && it->first.rfind(path, 0) == 0;) {
      it = files.erase(it);
    }
    return 0;
  }
  int64_t FreeBytes(const std::string&) override { return int64_t{1} << 40; }
};

parley::PagePoolShape Shape(int32_t page_size, int32_t kv_dim, parley::KvDtype dtype) {
  parley::PagePoolShape s;
  s.page_size = page_size;
  s.owners = 1;
  s.kv_dim = kv_dim;
  s.dtype = dtype;
  s.head_dim = kv_dim;
  return s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 3) return 0;
  static const parley::PagePoolShape kShapes[] = {Shape(4, 8, parley::KvDtype::kF32),
                                                  Shape(2, 32, parley::KvDtype::kI8)};
  const parley::PagePoolShape& shape = kShapes[data[0] & 1];
  const parley::HostCodec codec = (data[0] & 2) != 0 ? parley::HostCodec::kZstd : parley::HostCodec::kRaw;
  const uint8_t mode = data[1];
  const std::span<const uint8_t> rest(data + 2, size - 2);

  std::vector<uint8_t> page(shape.page_bytes());
  for (size_t i = 0; i < page.size(); ++i) page[i] = rest[i % rest.size()];
  const std::vector<uint8_t> blob = parley::EncodePage(shape, codec, page.data());

  MemEnv env;
  auto tier = parley::DiskTier::Open("/fuzz", 1 << 20, &env, /*min_free_bytes=*/0);
  if (!tier.ok()) __builtin_trap();
  const int64_t id = (*tier)->Put(blob);
  if (id < 0 || env.files.size() != 1) __builtin_trap();  // a whole .kv file, no .tmp left
  std::vector<uint8_t>& file = env.files.begin()->second;
  switch (mode % 5) {
    case 0:  // other bytes
      file.assign(rest.begin(), rest.end());
      break;
    case 1:  // cut short
      file.resize(rest[0] % (file.size() + 1));
      break;
    case 2:  // grown
      file.insert(file.end(), rest.begin(), rest.end());
      break;
    case 3:  // one byte flipped (or none, when the mask is 0)
      file[rest[0] % file.size()] ^= rest[rest.size() - 1];
      break;
    case 4:  // gone
      env.files.clear();
      break;
  }
  const bool intact = !env.files.empty() && env.files.begin()->second == blob;

  std::vector<uint8_t> read;
  const parley::Status st = (*tier)->Get(id, &read);
  if (st.ok()) {
    if (read != blob) __builtin_trap();  // wrong bytes passed the length and checksum checks
    std::vector<uint8_t> decoded(page.size(), 0xAB);
    if (!parley::DecodePage(shape, codec, read, decoded.data())) __builtin_trap();
    if (std::memcmp(decoded.data(), page.data(), page.size()) != 0) __builtin_trap();
    (*tier)->Drop(id);
  } else {
    if (intact) __builtin_trap();  // a good file refused
    if ((*tier)->Contains(id) || (*tier)->read_errors() != 1) __builtin_trap();
  }
  if ((*tier)->bytes_used() != 0 || !env.files.empty()) __builtin_trap();  // nothing left behind
  return 0;
}
