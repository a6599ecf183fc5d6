// Test-only helpers for the kernels tests: random rows of every supported type and a scoped
// SIMD-level override. Not part of parley_kernels.
#pragma once

#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "kernels/cpu.h"
#include "kernels/fp16.h"
#include "kernels/tensor_type.h"

namespace parley::test {

inline constexpr TensorType kSupportedTypes[] = {
    TensorType::kF32,  TensorType::kF16,  TensorType::kBF16, TensorType::kQ4_0, TensorType::kQ4_1,
    TensorType::kQ5_0, TensorType::kQ5_1, TensorType::kQ8_0, TensorType::kQ2_K, TensorType::kQ3_K,
    TensorType::kQ4_K, TensorType::kQ5_K, TensorType::kQ6_K,
};

inline const TypeInfo& Info(TensorType type) { return *FindTypeInfo(static_cast<uint32_t>(type)); }

// Byte offsets of the half-precision scale fields inside one block.
inline std::vector<int> HalfFieldOffsets(TensorType type) {
  switch (type) {
    case TensorType::kQ4_0:
    case TensorType::kQ5_0:
    case TensorType::kQ8_0: return {0};
    case TensorType::kQ4_1:
    case TensorType::kQ5_1:
    case TensorType::kQ4_K:
    case TensorType::kQ5_K: return {0, 2};
    case TensorType::kQ2_K: return {80, 82};
    case TensorType::kQ3_K: return {108};
    case TensorType::kQ6_K: return {208};
    default: return {};
  }
}

// A row of n elements: random bytes for the quants and scale bytes, with every half field
// set to a random finite value of magnitude in [1e-3, 0.1] (either sign). Plain float types
// get random values in [-2, 2).
inline std::vector<uint8_t> RandomRow(TensorType type, int64_t n, std::mt19937& rng) {
  const TypeInfo& info = Info(type);
  const int64_t num_blocks = n / info.block_elems;
  std::vector<uint8_t> row(static_cast<size_t>(num_blocks * info.block_bytes));
  std::uniform_real_distribution<float> value(-2.0f, 2.0f);
  std::uniform_real_distribution<float> magnitude(1e-3f, 0.1f);
  std::uniform_int_distribution<int> byte(0, 255);
  if (info.block_elems == 1) {
    for (int64_t i = 0; i < n; ++i) {
      const float v = value(rng);
      if (type == TensorType::kF32) {
        std::memcpy(row.data() + 4 * i, &v, 4);
      } else {
        const uint16_t h = type == TensorType::kF16 ? F32ToF16(v) : F32ToBf16(v);
        std::memcpy(row.data() + 2 * i, &h, 2);
      }
    }
    return row;
  }
  for (uint8_t& b : row) b = static_cast<uint8_t>(byte(rng));
  for (int64_t b = 0; b < num_blocks; ++b) {
    for (int offset : HalfFieldOffsets(type)) {
      const float v = (byte(rng) & 1 ? -1.0f : 1.0f) * magnitude(rng);
      const uint16_t h = F32ToF16(v);
      std::memcpy(row.data() + b * info.block_bytes + offset, &h, 2);
    }
  }
  return row;
}

inline std::vector<float> RandomFloats(int64_t n, std::mt19937& rng, float lo = -1.0f,
                                       float hi = 1.0f) {
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& f : v) f = dist(rng);
  return v;
}

// Every SIMD level this machine can run, scalar first.
inline std::vector<SimdLevel> AvailableLevels() {
  std::vector<SimdLevel> levels;
  for (int l = 0; l <= static_cast<int>(DetectedSimdLevel()); ++l) {
    levels.push_back(static_cast<SimdLevel>(l));
  }
  return levels;
}

// Forces a SIMD level for its lifetime and restores the previous one.
class ScopedSimdLevel {
 public:
  explicit ScopedSimdLevel(SimdLevel level) : saved_(ActiveSimdLevel()) { ForceSimdLevel(level); }
  ~ScopedSimdLevel() { ForceSimdLevel(saved_); }
  ScopedSimdLevel(const ScopedSimdLevel&) = delete;
  ScopedSimdLevel& operator=(const ScopedSimdLevel&) = delete;

 private:
  SimdLevel saved_;
};

}  // namespace parley::test
