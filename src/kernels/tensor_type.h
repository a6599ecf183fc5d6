// Tensor element types as numbered in GGUF/ggml, with their block geometry.
// Pure data; no SIMD here.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace parley {

enum class TensorType : uint32_t {
  kF32 = 0,
  kF16 = 1,
  kQ4_0 = 2,
  kQ4_1 = 3,
  kQ5_0 = 6,
  kQ5_1 = 7,
  kQ8_0 = 8,
  kQ8_1 = 9,
  kQ2_K = 10,
  kQ3_K = 11,
  kQ4_K = 12,
  kQ5_K = 13,
  kQ6_K = 14,
  kQ8_K = 15,
  kBF16 = 30,
};

struct TypeInfo {
  const char* name;   // "Q4_K"
  int block_elems;    // elements per block (1 for plain float types)
  int block_bytes;    // bytes per block
  bool supported;     // Parley can dequantize and dot this type as a weight
};

// Geometry and name of ggml type `id`, or nullptr if the id is unknown to Parley.
// Known-but-unsupported ids (IQ*, TQ*, Q8_1, Q8_K as weights...) return supported=false.
const TypeInfo* FindTypeInfo(uint32_t id);

// "Q4_K", or "type 99" for an unknown id.
std::string TypeName(uint32_t id);

// Bytes of a row of `n` elements. REQUIRES: the type is known and n % block_elems == 0.
size_t RowBytes(TensorType type, int64_t n);

}  // namespace parley
