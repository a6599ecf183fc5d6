// GgufValue helpers: element counts and builders.
#include "gguf/gguf.h"

namespace parley {

const char* GgufValueTypeName(GgufValueType type) {
  switch (type) {
    case GgufValueType::kUint8: return "uint8";
    case GgufValueType::kInt8: return "int8";
    case GgufValueType::kUint16: return "uint16";
    case GgufValueType::kInt16: return "int16";
    case GgufValueType::kUint32: return "uint32";
    case GgufValueType::kInt32: return "int32";
    case GgufValueType::kFloat32: return "float32";
    case GgufValueType::kBool: return "bool";
    case GgufValueType::kString: return "string";
    case GgufValueType::kArray: return "array";
    case GgufValueType::kUint64: return "uint64";
    case GgufValueType::kInt64: return "int64";
    case GgufValueType::kFloat64: return "float64";
  }
  return "unknown";
}

size_t GgufValue::size() const {
  return ints.size() + uints.size() + floats.size() + strings.size();
}

GgufValue GgufValue::Scalar(GgufValueType type, double v) {
  GgufValue out;
  out.type = type;
  switch (type) {
    case GgufValueType::kUint8:
    case GgufValueType::kUint16:
    case GgufValueType::kUint32:
    case GgufValueType::kUint64:
      out.uints.push_back(static_cast<uint64_t>(v));
      break;
    case GgufValueType::kFloat32:
    case GgufValueType::kFloat64:
      out.floats.push_back(v);
      break;
    default:
      out.ints.push_back(static_cast<int64_t>(v));
  }
  return out;
}

GgufValue GgufValue::U32(uint32_t v) { return Scalar(GgufValueType::kUint32, v); }
GgufValue GgufValue::I32(int32_t v) { return Scalar(GgufValueType::kInt32, v); }
GgufValue GgufValue::F32(float v) { return Scalar(GgufValueType::kFloat32, v); }
GgufValue GgufValue::Bool(bool v) { return Scalar(GgufValueType::kBool, v ? 1 : 0); }

GgufValue GgufValue::U64(uint64_t v) {
  GgufValue out;
  out.type = GgufValueType::kUint64;
  out.uints.push_back(v);
  return out;
}

GgufValue GgufValue::Str(std::string v) {
  GgufValue out;
  out.type = GgufValueType::kString;
  out.strings.push_back(std::move(v));
  return out;
}

GgufValue GgufValue::StrArray(std::vector<std::string> v) {
  GgufValue out;
  out.type = GgufValueType::kArray;
  out.elem_type = GgufValueType::kString;
  out.strings = std::move(v);
  return out;
}

GgufValue GgufValue::F32Array(const std::vector<float>& v) {
  GgufValue out;
  out.type = GgufValueType::kArray;
  out.elem_type = GgufValueType::kFloat32;
  out.floats.assign(v.begin(), v.end());
  return out;
}

GgufValue GgufValue::I32Array(const std::vector<int32_t>& v) {
  GgufValue out;
  out.type = GgufValueType::kArray;
  out.elem_type = GgufValueType::kInt32;
  out.ints.assign(v.begin(), v.end());
  return out;
}

int64_t GgufTensorInfo::num_elements() const {
  int64_t n = 1;
  for (int64_t d : ne) n *= d;
  return n;
}

int64_t GgufTensorInfo::rows() const {
  int64_t n = 1;
  for (size_t i = 1; i < ne.size(); ++i) n *= ne[i];
  return n;
}

}  // namespace parley
