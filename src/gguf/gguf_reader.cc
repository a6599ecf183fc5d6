// GGUF reader: parses the header, metadata and tensor table of a mapped file with a
// bounds-checked cursor, so a truncated or corrupt file gives an error, never a crash.
#include <cstring>
#include <limits>

#include "gguf/gguf.h"

namespace parley {
namespace {

constexpr uint32_t kMagic = 0x46554747;  // "GGUF" read as little-endian u32
constexpr uint64_t kMaxStringBytes = 1ull << 30;
constexpr uint64_t kMaxArrayElems = 1ull << 32;
constexpr int kMaxDims = 4;

// A cursor over the mapped bytes. Every read checks the remaining length.
class Cursor {
 public:
  Cursor(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  size_t pos() const { return pos_; }

  template <typename T>
  Status Read(T* out, const char* what) {
    if (size_ - pos_ < sizeof(T)) return Truncated(what);
    std::memcpy(out, data_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return Status::Ok();
  }

  Status ReadString(std::string* out, const char* what) {
    uint64_t len = 0;
    PARLEY_RETURN_IF_ERROR(Read(&len, what));
    if (len > kMaxStringBytes) {
      return Status::Error(std::string("implausible ") + what + " length " + std::to_string(len) +
                           " at byte " + std::to_string(pos_ - 8));
    }
    if (size_ - pos_ < len) return Truncated(what);
    out->assign(reinterpret_cast<const char*>(data_ + pos_), len);
    pos_ += len;
    return Status::Ok();
  }

 private:
  Status Truncated(const char* what) const {
    return Status::Error(std::string("file is truncated (ends while reading ") + what +
                         " at byte " + std::to_string(pos_) + " of " + std::to_string(size_) +
                         ")");
  }
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

bool IsValidValueType(uint32_t t) { return t <= static_cast<uint32_t>(GgufValueType::kFloat64); }

// Reads one element of scalar type `type` into `value`'s storage.
Status ReadElement(Cursor& c, GgufValueType type, GgufValue* value) {
  switch (type) {
    case GgufValueType::kUint8: { uint8_t v; PARLEY_RETURN_IF_ERROR(c.Read(&v, "uint8")); value->uints.push_back(v); break; }
    case GgufValueType::kInt8: { int8_t v; PARLEY_RETURN_IF_ERROR(c.Read(&v, "int8")); value->ints.push_back(v); break; }
    case GgufValueType::kUint16: { uint16_t v; PARLEY_RETURN_IF_ERROR(c.Read(&v, "uint16")); value->uints.push_back(v); break; }
    case GgufValueType::kInt16: { int16_t v; PARLEY_RETURN_IF_ERROR(c.Read(&v, "int16")); value->ints.push_back(v); break; }
    case GgufValueType::kUint32: { uint32_t v; PARLEY_RETURN_IF_ERROR(c.Read(&v, "uint32")); value->uints.push_back(v); break; }
    case GgufValueType::kInt32: { int32_t v; PARLEY_RETURN_IF_ERROR(c.Read(&v, "int32")); value->ints.push_back(v); break; }
    case GgufValueType::kUint64: { uint64_t v; PARLEY_RETURN_IF_ERROR(c.Read(&v, "uint64")); value->uints.push_back(v); break; }
    case GgufValueType::kInt64: { int64_t v; PARLEY_RETURN_IF_ERROR(c.Read(&v, "int64")); value->ints.push_back(v); break; }
    case GgufValueType::kFloat32: { float v; PARLEY_RETURN_IF_ERROR(c.Read(&v, "float32")); value->floats.push_back(v); break; }
    case GgufValueType::kFloat64: { double v; PARLEY_RETURN_IF_ERROR(c.Read(&v, "float64")); value->floats.push_back(v); break; }
    case GgufValueType::kBool: {
      uint8_t v;
      PARLEY_RETURN_IF_ERROR(c.Read(&v, "bool"));
      if (v > 1) return Status::Error("bool value " + std::to_string(v) + " is neither 0 nor 1");
      value->ints.push_back(v);
      break;
    }
    case GgufValueType::kString: {
      std::string s;
      PARLEY_RETURN_IF_ERROR(c.ReadString(&s, "string value"));
      value->strings.push_back(std::move(s));
      break;
    }
    case GgufValueType::kArray:
      return Status::Error("nested arrays are not supported");
  }
  return Status::Ok();
}

Status ReadValue(Cursor& c, GgufValue* value) {
  uint32_t type = 0;
  PARLEY_RETURN_IF_ERROR(c.Read(&type, "value type"));
  if (!IsValidValueType(type)) return Status::Error("unknown value type " + std::to_string(type));
  value->type = static_cast<GgufValueType>(type);
  if (value->type != GgufValueType::kArray) return ReadElement(c, value->type, value);
  uint32_t elem = 0;
  uint64_t count = 0;
  PARLEY_RETURN_IF_ERROR(c.Read(&elem, "array element type"));
  PARLEY_RETURN_IF_ERROR(c.Read(&count, "array length"));
  if (!IsValidValueType(elem)) {
    return Status::Error("unknown array element type " + std::to_string(elem));
  }
  if (count > kMaxArrayElems) return Status::Error("implausible array length " + std::to_string(count));
  value->elem_type = static_cast<GgufValueType>(elem);
  for (uint64_t i = 0; i < count; ++i) PARLEY_RETURN_IF_ERROR(ReadElement(c, value->elem_type, value));
  return Status::Ok();
}

}  // namespace

StatusOr<std::unique_ptr<GgufFile>> GgufFile::Open(const std::string& path) {
  PARLEY_ASSIGN_OR_RETURN(auto mapped, MappedFile::Open(path));
  std::unique_ptr<GgufFile> file(new GgufFile());
  file->file_ = std::move(mapped);
  Status st = file->Parse();
  if (!st.ok()) return st.WithContext(path);
  return file;
}

Status GgufFile::Parse() {
  Cursor c(file_->data(), file_->size());
  uint32_t magic = 0;
  if (file_->size() < 4) return Status::Error("not a GGUF file (too short to hold the magic)");
  PARLEY_RETURN_IF_ERROR(c.Read(&magic, "magic"));
  if (magic != kMagic) {
    char m[5] = {};
    std::memcpy(m, file_->data(), 4);
    for (char& ch : m) {
      if (ch != 0 && (ch < 32 || ch > 126)) ch = '?';
    }
    return Status::Error(std::string("not a GGUF file (magic is \"") + m + "\", expected \"GGUF\")");
  }
  PARLEY_RETURN_IF_ERROR(c.Read(&version_, "version"));
  if ((version_ & 0xFFFF) == 0 && version_ != 0) {
    return Status::Error("GGUF file has the wrong byte order (big-endian files are not supported)");
  }
  if (version_ < 2 || version_ > 3) {
    return Status::Error("unsupported GGUF version " + std::to_string(version_) +
                         " (Parley reads versions 2 and 3)");
  }
  int64_t tensor_count = 0, kv_count = 0;
  PARLEY_RETURN_IF_ERROR(c.Read(&tensor_count, "tensor count"));
  PARLEY_RETURN_IF_ERROR(c.Read(&kv_count, "metadata count"));
  if (tensor_count < 0 || tensor_count > (1 << 24)) {
    return Status::Error("implausible tensor count " + std::to_string(tensor_count));
  }
  if (kv_count < 0 || kv_count > (1 << 24)) {
    return Status::Error("implausible metadata count " + std::to_string(kv_count));
  }

  for (int64_t i = 0; i < kv_count; ++i) {
    std::string key;
    PARLEY_RETURN_IF_ERROR(c.ReadString(&key, "metadata key"));
    if (key.empty()) return Status::Error("metadata entry " + std::to_string(i) + " has an empty key");
    GgufValue value;
    PARLEY_RETURN_IF_ERROR(ReadValue(c, &value).WithContext("metadata key " + key));
    if (!kv_index_.emplace(key, kv_.size()).second) {
      return Status::Error("duplicate metadata key " + key);
    }
    kv_.emplace_back(std::move(key), std::move(value));
  }

  if (const GgufValue* a = Find("general.alignment")) {
    if (a->type != GgufValueType::kUint32 || a->uints.size() != 1) {
      return Status::Error("general.alignment must be a uint32");
    }
    uint64_t al = a->uints[0];
    if (al == 0 || (al & (al - 1)) != 0 || al % 8 != 0) {
      return Status::Error("general.alignment " + std::to_string(al) +
                           " is not a power of two multiple of 8");
    }
    alignment_ = static_cast<uint32_t>(al);
  }

  tensors_.resize(tensor_count);
  for (int64_t i = 0; i < tensor_count; ++i) {
    GgufTensorInfo& t = tensors_[i];
    PARLEY_RETURN_IF_ERROR(c.ReadString(&t.name, "tensor name"));
    uint32_t n_dims = 0;
    PARLEY_RETURN_IF_ERROR(c.Read(&n_dims, "tensor dimension count"));
    if (n_dims == 0 || n_dims > kMaxDims) {
      return Status::Error("tensor " + t.name + " has " + std::to_string(n_dims) +
                           " dimensions (1 to 4 allowed)");
    }
    t.ne.resize(n_dims);
    for (uint32_t d = 0; d < n_dims; ++d) {
      PARLEY_RETURN_IF_ERROR(c.Read(&t.ne[d], "tensor dimension"));
      if (t.ne[d] < 0 || t.ne[d] > (int64_t{1} << 40)) {
        return Status::Error("tensor " + t.name + " has an invalid dimension " + std::to_string(t.ne[d]));
      }
    }
    PARLEY_RETURN_IF_ERROR(c.Read(&t.type_id, "tensor type"));
    PARLEY_RETURN_IF_ERROR(c.Read(&t.offset, "tensor offset"));
    if (!tensor_index_.emplace(t.name, i).second) {
      return Status::Error("duplicate tensor name " + t.name);
    }
  }

  uint64_t pos = c.pos();
  data_offset_ = pos + (alignment_ - pos % alignment_) % alignment_;
  if (data_offset_ > file_->size()) {
    return Status::Error("file is truncated (the tensor data section starts at byte " +
                         std::to_string(data_offset_) + ", past the end of the " +
                         std::to_string(file_->size()) + "-byte file)");
  }

  // Sizes and bounds. Unsupported types are recorded, not rejected here: the model loader
  // reports them with the tensor's name. Types whose geometry is unknown cannot be bounded.
  for (GgufTensorInfo& t : tensors_) {
    const TypeInfo* info = FindTypeInfo(t.type_id);
    if (info == nullptr || info->block_elems == 0) {
      return Status::Error("tensor " + t.name + " has type " + TypeName(t.type_id) +
                           ", which Parley does not support");
    }
    if (t.ne[0] % info->block_elems != 0) {
      return Status::Error("tensor " + t.name + " has row length " + std::to_string(t.ne[0]) +
                           ", not a multiple of the " + info->name + " block size " +
                           std::to_string(info->block_elems));
    }
    unsigned __int128 bytes = static_cast<unsigned __int128>(t.ne[0] / info->block_elems) *
                              static_cast<unsigned>(info->block_bytes);
    for (size_t d = 1; d < t.ne.size(); ++d) bytes *= static_cast<uint64_t>(t.ne[d]);
    if (t.offset % alignment_ != 0) {
      return Status::Error("tensor " + t.name + " offset " + std::to_string(t.offset) +
                           " is not a multiple of the alignment " + std::to_string(alignment_));
    }
    unsigned __int128 end = static_cast<unsigned __int128>(data_offset_) + t.offset + bytes;
    if (end > file_->size()) {
      return Status::Error("tensor " + t.name + " (" + std::to_string(static_cast<uint64_t>(bytes)) +
                           " bytes at offset " + std::to_string(t.offset) +
                           ") extends past the end of the file: the file is truncated or corrupt");
    }
    t.size_bytes = static_cast<uint64_t>(bytes);
    t.data = file_->data() + data_offset_ + t.offset;
  }
  return Status::Ok();
}

const GgufValue* GgufFile::Find(const std::string& key) const {
  auto it = kv_index_.find(key);
  return it == kv_index_.end() ? nullptr : &kv_[it->second].second;
}

const GgufTensorInfo* GgufFile::FindTensor(const std::string& name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

StatusOr<std::optional<int64_t>> GgufFile::GetInt(const std::string& key) const {
  const GgufValue* v = Find(key);
  if (v == nullptr) return std::optional<int64_t>();
  if (!v->is_array() && v->type != GgufValueType::kBool) {
    if (v->uints.size() == 1) {
      if (v->uints[0] > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        return Status::Error(key + ": value out of range");
      }
      return std::optional<int64_t>(static_cast<int64_t>(v->uints[0]));
    }
    if (v->ints.size() == 1) return std::optional<int64_t>(v->ints[0]);
  }
  return Status::Error(std::string("metadata key ") + key + " should be an integer but is " +
                       GgufValueTypeName(v->type));
}

StatusOr<std::optional<double>> GgufFile::GetFloat(const std::string& key) const {
  const GgufValue* v = Find(key);
  if (v == nullptr) return std::optional<double>();
  if (!v->is_array() && v->floats.size() == 1) return std::optional<double>(v->floats[0]);
  if (!v->is_array() && v->type != GgufValueType::kBool) {
    if (v->uints.size() == 1) return std::optional<double>(static_cast<double>(v->uints[0]));
    if (v->ints.size() == 1) return std::optional<double>(static_cast<double>(v->ints[0]));
  }
  return Status::Error(std::string("metadata key ") + key + " should be a number but is " +
                       GgufValueTypeName(v->type));
}

StatusOr<std::optional<bool>> GgufFile::GetBool(const std::string& key) const {
  const GgufValue* v = Find(key);
  if (v == nullptr) return std::optional<bool>();
  if (v->type == GgufValueType::kBool) return std::optional<bool>(v->ints[0] != 0);
  return Status::Error(std::string("metadata key ") + key + " should be a bool but is " +
                       GgufValueTypeName(v->type));
}

StatusOr<std::optional<std::string>> GgufFile::GetString(const std::string& key) const {
  const GgufValue* v = Find(key);
  if (v == nullptr) return std::optional<std::string>();
  if (v->type == GgufValueType::kString) return std::optional<std::string>(v->strings[0]);
  return Status::Error(std::string("metadata key ") + key + " should be a string but is " +
                       GgufValueTypeName(v->type));
}

}  // namespace parley
