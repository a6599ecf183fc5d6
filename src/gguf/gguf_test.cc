#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <algorithm>
#include <filesystem>
#include <unistd.h>

#include "gguf/gguf.h"
#include "gguf/gguf_writer.h"

namespace parley {
namespace {

std::string TempPath(const std::string& name) {
  return (std::filesystem::temp_directory_path() /
          ("parley_gguf_test_" + std::to_string(::getpid()) + "_" + name))
      .string();
}

std::string WriteBytes(const std::string& name, const std::vector<uint8_t>& bytes) {
  std::string path = TempPath(name);
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!bytes.empty()) std::fwrite(bytes.data(), 1, bytes.size(), f);
  std::fclose(f);
  return path;
}

GgufWriter SampleWriter() {
  GgufWriter w;
  w.AddKv("general.architecture", GgufValue::Str("llama"));
  w.AddKv("t.u8", GgufValue::Scalar(GgufValueType::kUint8, 200));
  w.AddKv("t.i8", GgufValue::Scalar(GgufValueType::kInt8, -100));
  w.AddKv("t.u16", GgufValue::Scalar(GgufValueType::kUint16, 60000));
  w.AddKv("t.i16", GgufValue::Scalar(GgufValueType::kInt16, -30000));
  w.AddKv("t.u32", GgufValue::U32(4000000000u));
  w.AddKv("t.i32", GgufValue::I32(-2000000000));
  w.AddKv("t.f32", GgufValue::F32(1.5f));
  w.AddKv("t.bool", GgufValue::Bool(true));
  w.AddKv("t.u64", GgufValue::U64(1ull << 40));
  w.AddKv("t.i64", GgufValue::Scalar(GgufValueType::kInt64, -(1ll << 40)));
  w.AddKv("t.f64", GgufValue::Scalar(GgufValueType::kFloat64, 0.125));
  w.AddKv("t.strs", GgufValue::StrArray({"a", "", "héllo ▁"}));
  w.AddKv("t.f32s", GgufValue::F32Array({1.0f, -2.5f}));
  w.AddKv("t.i32s", GgufValue::I32Array({7, -7, 0}));
  std::vector<float> a(64 * 3), b(32);
  for (size_t i = 0; i < a.size(); ++i) a[i] = 0.01f * static_cast<float>(i) - 0.5f;
  for (size_t i = 0; i < b.size(); ++i) b[i] = static_cast<float>(i);
  w.AddTensorF32("a.weight", TensorType::kQ8_0, {64, 3}, a);
  w.AddTensorF32("b.weight", TensorType::kF32, {32}, b);
  return w;
}

TEST(GgufTest, RoundTripEveryValueType) {
  GgufWriter w = SampleWriter();
  std::string path = WriteBytes("rt.gguf", w.Serialize());
  auto file = GgufFile::Open(path);
  ASSERT_TRUE(file.ok()) << file.status().message();
  const GgufFile& g = **file;
  EXPECT_EQ(g.version(), 3u);
  EXPECT_EQ(*g.GetString("general.architecture").value(), "llama");
  EXPECT_EQ(*g.GetInt("t.u8").value(), 200);
  EXPECT_EQ(*g.GetInt("t.i8").value(), -100);
  EXPECT_EQ(*g.GetInt("t.u16").value(), 60000);
  EXPECT_EQ(*g.GetInt("t.i16").value(), -30000);
  EXPECT_EQ(*g.GetInt("t.u32").value(), 4000000000ll);
  EXPECT_EQ(*g.GetInt("t.i32").value(), -2000000000ll);
  EXPECT_EQ(*g.GetFloat("t.f32").value(), 1.5);
  EXPECT_EQ(*g.GetBool("t.bool").value(), true);
  EXPECT_EQ(*g.GetInt("t.u64").value(), 1ll << 40);
  EXPECT_EQ(*g.GetInt("t.i64").value(), -(1ll << 40));
  EXPECT_EQ(*g.GetFloat("t.f64").value(), 0.125);
  EXPECT_EQ(g.Find("t.strs")->strings, (std::vector<std::string>{"a", "", "héllo ▁"}));
  EXPECT_EQ(g.Find("t.f32s")->floats, (std::vector<double>{1.0, -2.5}));
  EXPECT_EQ(g.Find("t.i32s")->ints, (std::vector<int64_t>{7, -7, 0}));
  EXPECT_EQ(g.Find("t.i32s")->elem_type, GgufValueType::kInt32);
  EXPECT_FALSE(g.GetInt("missing").value().has_value());
  EXPECT_FALSE(g.GetInt("t.strs").ok());  // wrong type is an error naming the key
  EXPECT_NE(g.GetInt("t.strs").status().message().find("t.strs"), std::string::npos);

  ASSERT_EQ(g.tensors().size(), 2u);
  const GgufTensorInfo* a = g.FindTensor("a.weight");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->type(), TensorType::kQ8_0);
  EXPECT_EQ(a->size_bytes, 3u * 2u * 34u);  // 3 rows of two Q8_0 blocks
  EXPECT_EQ(a->rows(), 3);
  EXPECT_EQ((a->data - g.FindTensor("b.weight")->data) % 32, 0);
  EXPECT_EQ(g.data_offset() % g.alignment(), 0u);
  const GgufTensorInfo* b = g.FindTensor("b.weight");
  float b5;
  std::memcpy(&b5, b->data + 5 * 4, 4);
  EXPECT_EQ(b5, 5.0f);

  // Re-serializing what was read gives the same bytes.
  GgufWriter w2;
  for (const auto& [k, v] : g.metadata()) w2.AddKv(k, v);
  for (const auto& t : g.tensors()) {
    w2.AddTensor(t.name, t.type(), t.ne, std::vector<uint8_t>(t.data, t.data + t.size_bytes));
  }
  EXPECT_EQ(w2.Serialize(), w.Serialize());
  std::remove(path.c_str());
}

void ExpectOpenFails(const std::vector<uint8_t>& bytes, const std::string& needle) {
  std::string path = WriteBytes("bad.gguf", bytes);
  auto file = GgufFile::Open(path);
  ASSERT_FALSE(file.ok()) << "expected failure containing: " << needle;
  EXPECT_NE(file.status().message().find(needle), std::string::npos) << file.status().message();
  EXPECT_NE(file.status().message().find(path), std::string::npos) << "error should name the file";
  std::remove(path.c_str());
}

TEST(GgufTest, WrongMagic) {
  auto bytes = SampleWriter().Serialize();
  std::memcpy(bytes.data(), "GGML", 4);
  ExpectOpenFails(bytes, "not a GGUF file");
}

TEST(GgufTest, UnsupportedVersion) {
  auto bytes = SampleWriter().Serialize();
  uint32_t v = 4;
  std::memcpy(bytes.data() + 4, &v, 4);
  ExpectOpenFails(bytes, "unsupported GGUF version 4");
  v = 1;
  std::memcpy(bytes.data() + 4, &v, 4);
  ExpectOpenFails(bytes, "unsupported GGUF version 1");
}

TEST(GgufTest, TruncatedAnywhere) {
  auto bytes = SampleWriter().Serialize();
  // Every prefix shorter than the full file must fail cleanly (no crash, an error).
  for (size_t len = 0; len < bytes.size(); len += (len < 600 ? 1 : 37)) {
    std::vector<uint8_t> cut(bytes.begin(), bytes.begin() + len);
    std::string path = WriteBytes("trunc.gguf", cut);
    auto file = GgufFile::Open(path);
    EXPECT_FALSE(file.ok()) << "prefix of " << len << " bytes opened";
    std::remove(path.c_str());
  }
  std::vector<uint8_t> cut(bytes.begin(), bytes.end() - 10);
  ExpectOpenFails(cut, "extends past the end of the file");
}

TEST(GgufTest, TensorPastEndOfFile) {
  GgufWriter w;
  w.AddKv("general.architecture", GgufValue::Str("llama"));
  w.AddTensor("zz_tensor", TensorType::kF32, {4}, std::vector<uint8_t>(16));
  std::vector<uint8_t> w2 = w.Serialize();
  const std::string name = "zz_tensor";
  auto it = std::search(w2.begin(), w2.end(), name.begin(), name.end());
  ASSERT_NE(it, w2.end());
  // The info after the name: n_dims (u32), ne[0] (i64), type (u32), offset (u64).
  size_t off_pos = (it - w2.begin()) + name.size() + 4 + 8 + 4;
  uint64_t off = 1 << 20;
  std::memcpy(w2.data() + off_pos, &off, 8);
  ExpectOpenFails(w2, "extends past the end of the file");
}

TEST(GgufTest, UnknownTensorTypeIsNamed) {
  GgufWriter w;
  w.AddTensor("blk.0.attn_q.weight", static_cast<TensorType>(999), {32}, std::vector<uint8_t>(32));
  ExpectOpenFails(w.Serialize(), "tensor blk.0.attn_q.weight has type type 999");
}

TEST(GgufTest, GarbageDoesNotCrash) {
  std::vector<uint8_t> bytes = SampleWriter().Serialize();
  uint32_t seed = 12345;
  for (int trial = 0; trial < 300; ++trial) {
    std::vector<uint8_t> b = bytes;
    for (int k = 0; k < 4; ++k) {
      seed = seed * 1664525u + 1013904223u;
      size_t pos = 8 + seed % (std::min<size_t>(b.size(), 700) - 8);
      seed = seed * 1664525u + 1013904223u;
      b[pos] = static_cast<uint8_t>(seed >> 24);
    }
    std::string path = WriteBytes("fuzz.gguf", b);
    auto file = GgufFile::Open(path);  // ok or error; must not crash or hang
    std::remove(path.c_str());
  }
}

}  // namespace
}  // namespace parley
