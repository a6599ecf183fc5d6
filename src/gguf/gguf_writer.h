// Writes GGUF v3 files: metadata and tensors, each tensor's data padded to the alignment.
// Used by tests to build tiny random models and corrupt files.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"
#include "gguf/gguf.h"

namespace parley {

class GgufWriter {
 public:
  explicit GgufWriter(uint32_t alignment = 32) : alignment_(alignment) {}

  void AddKv(const std::string& key, GgufValue value);
  // Adds a tensor of raw, already-encoded bytes. ne[0] is the row length.
  void AddTensor(const std::string& name, TensorType type, std::vector<int64_t> ne,
                 std::vector<uint8_t> bytes);
  // Encodes f32 values to `type` (F32, F16, BF16, Q8_0, Q4_0, ... any type QuantizeRow
  // supports) and adds the tensor.
  void AddTensorF32(const std::string& name, TensorType type, std::vector<int64_t> ne,
                    const std::vector<float>& values);

  // The whole file as bytes.
  std::vector<uint8_t> Serialize() const;
  Status WriteFile(const std::string& path) const;

 private:
  struct Tensor {
    std::string name;
    TensorType type;
    std::vector<int64_t> ne;
    std::vector<uint8_t> bytes;
  };
  uint32_t alignment_;
  std::vector<std::pair<std::string, GgufValue>> kv_;
  std::vector<Tensor> tensors_;
};

}  // namespace parley
