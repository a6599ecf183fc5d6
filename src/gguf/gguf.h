// GGUF files: the metadata value model, and a memory-mapped reader that validates the
// whole container (header, every key/value, every tensor's offset and size against the
// file) before handing out views. A GgufFile is immutable after Open and safe to share
// across threads.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "base/mapped_file.h"
#include "base/status.h"
#include "kernels/tensor_type.h"

namespace parley {

enum class GgufValueType : uint32_t {
  kUint8 = 0,
  kInt8 = 1,
  kUint16 = 2,
  kInt16 = 3,
  kUint32 = 4,
  kInt32 = 5,
  kFloat32 = 6,
  kBool = 7,
  kString = 8,
  kArray = 9,
  kUint64 = 10,
  kInt64 = 11,
  kFloat64 = 12,
};
const char* GgufValueTypeName(GgufValueType type);

// One metadata value. Scalars hold one element; arrays hold `elem_type` elements.
// Integers are widened to int64/uint64 and floats to double for storage; `type` keeps
// the original on-disk type so a writer can round-trip it exactly.
struct GgufValue {
  GgufValueType type = GgufValueType::kUint32;
  GgufValueType elem_type = GgufValueType::kUint32;  // meaningful for kArray
  std::vector<int64_t> ints;          // signed ints and bools
  std::vector<uint64_t> uints;        // unsigned ints
  std::vector<double> floats;         // float32/float64
  std::vector<std::string> strings;   // strings

  bool is_array() const { return type == GgufValueType::kArray; }
  size_t size() const;  // number of elements (1 for a scalar)

  // Builders for writers and tests.
  static GgufValue U32(uint32_t v);
  static GgufValue I32(int32_t v);
  static GgufValue U64(uint64_t v);
  static GgufValue F32(float v);
  static GgufValue Bool(bool v);
  static GgufValue Str(std::string v);
  static GgufValue StrArray(std::vector<std::string> v);
  static GgufValue F32Array(const std::vector<float>& v);
  static GgufValue I32Array(const std::vector<int32_t>& v);
  static GgufValue Scalar(GgufValueType type, double v);  // any numeric/bool scalar type
};

struct GgufTensorInfo {
  std::string name;
  std::vector<int64_t> ne;   // ne[0] is the contiguous dimension (row length)
  uint32_t type_id = 0;      // raw ggml type id (may be unsupported: see kernels FindTypeInfo)
  uint64_t offset = 0;       // relative to the data section
  uint64_t size_bytes = 0;
  const uint8_t* data = nullptr;  // into the mapping

  TensorType type() const { return static_cast<TensorType>(type_id); }
  int64_t num_elements() const;
  int64_t rows() const;      // product of ne[1..]
};

class GgufFile {
 public:
  // Maps and validates `path`. Any structural problem is an error naming the file and
  // what is wrong (truncated, bad magic, unsupported version, tensor out of bounds...).
  static StatusOr<std::unique_ptr<GgufFile>> Open(const std::string& path);

  const std::string& path() const { return file_->path(); }
  uint32_t version() const { return version_; }
  uint32_t alignment() const { return alignment_; }
  uint64_t data_offset() const { return data_offset_; }
  uint64_t file_size() const { return file_->size(); }

  // Metadata in file order.
  const std::vector<std::pair<std::string, GgufValue>>& metadata() const { return kv_; }
  const GgufValue* Find(const std::string& key) const;

  // Typed getters. Integers accept any integer type on disk (the spec allows u32 or u64).
  // Missing key: the optional is empty. Wrong type: error naming the key.
  StatusOr<std::optional<int64_t>> GetInt(const std::string& key) const;
  StatusOr<std::optional<double>> GetFloat(const std::string& key) const;
  StatusOr<std::optional<bool>> GetBool(const std::string& key) const;
  StatusOr<std::optional<std::string>> GetString(const std::string& key) const;

  const std::vector<GgufTensorInfo>& tensors() const { return tensors_; }
  const GgufTensorInfo* FindTensor(const std::string& name) const;

 private:
  GgufFile() = default;
  Status Parse();

  std::unique_ptr<MappedFile> file_;
  uint32_t version_ = 0;
  uint32_t alignment_ = 32;
  uint64_t data_offset_ = 0;
  std::vector<std::pair<std::string, GgufValue>> kv_;
  std::map<std::string, size_t> kv_index_;
  std::vector<GgufTensorInfo> tensors_;
  std::map<std::string, size_t> tensor_index_;
};

}  // namespace parley
