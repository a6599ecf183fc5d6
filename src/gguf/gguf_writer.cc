// GGUF v3 writer (little-endian). Tensors are laid out in insertion order, each padded
// to the alignment, matching what llama.cpp's writer produces.
#include "gguf/gguf_writer.h"

#include <cstdio>
#include <cstring>

#include "base/check.h"
#include "kernels/quant.h"

namespace parley {
namespace {

class Buffer {
 public:
  template <typename T>
  void Put(T v) {
    const auto* p = reinterpret_cast<const uint8_t*>(&v);
    bytes_.insert(bytes_.end(), p, p + sizeof(T));
  }
  void PutString(const std::string& s) {
    Put<uint64_t>(s.size());
    bytes_.insert(bytes_.end(), s.begin(), s.end());
  }
  void PadTo(uint32_t alignment) {
    while (bytes_.size() % alignment != 0) bytes_.push_back(0);
  }
  void Append(const std::vector<uint8_t>& b) { bytes_.insert(bytes_.end(), b.begin(), b.end()); }
  std::vector<uint8_t>& bytes() { return bytes_; }

 private:
  std::vector<uint8_t> bytes_;
};

void PutElement(Buffer& b, GgufValueType type, const GgufValue& v, size_t i) {
  auto u = [&] { return v.uints.empty() ? static_cast<uint64_t>(v.ints.at(i)) : v.uints.at(i); };
  auto s = [&] { return v.ints.empty() ? static_cast<int64_t>(v.uints.at(i)) : v.ints.at(i); };
  switch (type) {
    case GgufValueType::kUint8: b.Put<uint8_t>(u()); break;
    case GgufValueType::kInt8: b.Put<int8_t>(s()); break;
    case GgufValueType::kUint16: b.Put<uint16_t>(u()); break;
    case GgufValueType::kInt16: b.Put<int16_t>(s()); break;
    case GgufValueType::kUint32: b.Put<uint32_t>(u()); break;
    case GgufValueType::kInt32: b.Put<int32_t>(s()); break;
    case GgufValueType::kUint64: b.Put<uint64_t>(u()); break;
    case GgufValueType::kInt64: b.Put<int64_t>(s()); break;
    case GgufValueType::kFloat32: b.Put<float>(static_cast<float>(v.floats.at(i))); break;
    case GgufValueType::kFloat64: b.Put<double>(v.floats.at(i)); break;
    case GgufValueType::kBool: b.Put<uint8_t>(s() != 0); break;
    case GgufValueType::kString: b.PutString(v.strings.at(i)); break;
    case GgufValueType::kArray: PARLEY_CHECK(false) << "nested arrays are not writable";
  }
}

}  // namespace

void GgufWriter::AddKv(const std::string& key, GgufValue value) {
  kv_.emplace_back(key, std::move(value));
}

void GgufWriter::AddTensor(const std::string& name, TensorType type, std::vector<int64_t> ne,
                           std::vector<uint8_t> bytes) {
  tensors_.push_back(Tensor{name, type, std::move(ne), std::move(bytes)});
}

void GgufWriter::AddTensorF32(const std::string& name, TensorType type, std::vector<int64_t> ne,
                              const std::vector<float>& values) {
  int64_t row = ne.at(0);
  int64_t rows = 1;
  for (size_t i = 1; i < ne.size(); ++i) rows *= ne[i];
  PARLEY_CHECK(static_cast<int64_t>(values.size()) == row * rows) << name;
  size_t row_bytes = RowBytes(type, row);
  std::vector<uint8_t> bytes(row_bytes * rows);
  for (int64_t r = 0; r < rows; ++r) {
    PARLEY_CHECK(QuantizeRow(type, values.data() + r * row, bytes.data() + r * row_bytes, row))
        << "cannot encode " << name << " as " << TypeName(static_cast<uint32_t>(type));
  }
  AddTensor(name, type, std::move(ne), std::move(bytes));
}

std::vector<uint8_t> GgufWriter::Serialize() const {
  Buffer b;
  b.Put<uint32_t>(0x46554747);
  b.Put<uint32_t>(3);
  b.Put<int64_t>(tensors_.size());
  b.Put<int64_t>(kv_.size());
  for (const auto& [key, v] : kv_) {
    b.PutString(key);
    b.Put<uint32_t>(static_cast<uint32_t>(v.type));
    if (v.is_array()) {
      b.Put<uint32_t>(static_cast<uint32_t>(v.elem_type));
      b.Put<uint64_t>(v.size());
      for (size_t i = 0; i < v.size(); ++i) PutElement(b, v.elem_type, v, i);
    } else {
      PutElement(b, v.type, v, 0);
    }
  }
  uint64_t offset = 0;
  for (const Tensor& t : tensors_) {
    b.PutString(t.name);
    b.Put<uint32_t>(t.ne.size());
    for (int64_t d : t.ne) b.Put<int64_t>(d);
    b.Put<uint32_t>(static_cast<uint32_t>(t.type));
    b.Put<uint64_t>(offset);
    offset += t.bytes.size();
    offset += (alignment_ - offset % alignment_) % alignment_;
  }
  b.PadTo(alignment_);
  for (const Tensor& t : tensors_) {
    b.Append(t.bytes);
    b.PadTo(alignment_);
  }
  return std::move(b.bytes());
}

Status GgufWriter::WriteFile(const std::string& path) const {
  std::vector<uint8_t> bytes = Serialize();
  FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) return Status::Error(path + ": cannot create");
  size_t written = std::fwrite(bytes.data(), 1, bytes.size(), f);
  bool ok = written == bytes.size();
  ok = (std::fclose(f) == 0) && ok;
  return ok ? Status::Ok() : Status::Error(path + ": write failed");
}

}  // namespace parley
