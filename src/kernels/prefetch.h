// Software prefetch for the kernels that stream weights. A weight matrix is read as panels
// (16 rows each, packed at load), and a tile reads several panels at once; the panels of a
// small model are short (a 576-wide panel is 5.6 KB of Q4_1 codes), too short
// for the hardware prefetcher, which ramps up per stream, to keep ahead of the core. So the
// kernels ask for each block's lines kPrefetchBytes ahead, into L2. Past a panel's end the
// lines are the next panel's, which this or the next tile reads. Measured in
// docs/performance.md ("Prefetch"): SmolLM2 decode +15%, Gemma 3 270M +7%.
#pragma once

#include <cstdint>

namespace parley {

inline constexpr int64_t kPrefetchBytes = 12 * 1024;

// Asks for the lines of [p + kPrefetchBytes, p + kPrefetchBytes + len) into L2. The address
// may lie past the buffer (a prefetch never faults), so it is formed as an integer.
inline void PrefetchAhead(const void* p, int64_t len) {
  const uintptr_t ahead = reinterpret_cast<uintptr_t>(p) + kPrefetchBytes;
  for (int64_t o = 0; o < len; o += 64) {
    __builtin_prefetch(reinterpret_cast<const void*>(ahead + o), /*rw=*/0, /*locality=*/2);
  }
}

}  // namespace parley
