// Env: the file operations of the tiers that keep data on disk (leveldb's idea), so tests can
// make them fail. Env::Default() is the POSIX implementation production code uses;
// base/testing/faulty_env.h wraps it to inject write errors, short and torn writes, a full
// disk, failed renames, short, corrupt and vanished reads.
// Errors are errno values (0: success), as POSIX reports them: a caller tells a full disk
// (ENOSPC) from a vanished file (ENOENT) from other I/O errors. ErrnoText() words them.
// Thread-safety: Env::Default() is thread-safe; a WritableFile is used by one thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace parley {

class WritableFile {
 public:
  virtual ~WritableFile() = default;
  // Writes all of `data` at the end of the file, retrying partial writes; 0, or the errno of
  // the write that failed (some of `data` may then be in the file).
  virtual int Append(std::span<const uint8_t> data) = 0;
  // fsync(2): 0 or an errno value.
  virtual int Sync() = 0;
  // Closes the file (also done by the destructor, which ignores errors); 0 or an errno value.
  virtual int Close() = 0;
};

class Env {
 public:
  virtual ~Env() = default;
  // The POSIX implementation; lives for the whole process.
  static Env* Default();

  // Creates (or truncates) `path` for writing.
  virtual int NewWritableFile(const std::string& path, std::unique_ptr<WritableFile>* out) = 0;
  // Reads the file's first bytes, at most `limit`, into *out (resized to what was read).
  virtual int ReadFile(const std::string& path, size_t limit, std::vector<uint8_t>* out) = 0;
  // rename(2): replaces `to` if it exists.
  virtual int Rename(const std::string& from, const std::string& to) = 0;
  // Removes one file.
  virtual int Remove(const std::string& path) = 0;
  // Creates a directory and its missing parents (mkdir -p); 0 if it exists already.
  virtual int CreateDirs(const std::string& path) = 0;
  // Creates one directory; EEXIST if it exists.
  virtual int CreateDir(const std::string& path) = 0;
  // Removes a directory tree (best effort: the first error is returned).
  virtual int RemoveAll(const std::string& path) = 0;
  // Bytes an unprivileged process may still write on the filesystem holding `path`, or
  // -errno when statvfs fails.
  virtual int64_t FreeBytes(const std::string& path) = 0;
};

// strerror(err), thread-safe.
std::string ErrnoText(int err);

}  // namespace parley
