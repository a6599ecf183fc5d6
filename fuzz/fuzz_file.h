// A per-process scratch file for fuzz targets whose API takes a path: each input is
// written over it, parallel jobs never collide, and a normal exit removes it.
#pragma once
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace parley::fuzz {

// Writes `data` to /dev/shm (or /tmp when /dev/shm is missing) and returns the path.
inline std::string WriteScratchFile(const char* stem, const uint8_t* data, size_t size) {
  static const std::string path = [stem] {
    const char* dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    return std::string(dir) + "/parley_" + stem + "_" + std::to_string(getpid()) + ".bin";
  }();
  static const bool cleanup_registered = [] {
    std::atexit([] { unlink(path.c_str()); });
    return true;
  }();
  (void)cleanup_registered;
  FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) __builtin_trap();  // the harness itself is broken: stop loudly
  if (size > 0 && std::fwrite(data, 1, size, f) != size) __builtin_trap();
  std::fclose(f);
  return path;
}

}  // namespace parley::fuzz
