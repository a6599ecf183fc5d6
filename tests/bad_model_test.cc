// Bad model files given to the parley binary: each must end with a clear error message
// and a non-zero exit status, never a crash. (CI also runs this under AddressSanitizer.)
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <cstring>
#include <fstream>

#include "gguf/gguf.h"
#include "gguf/gguf_writer.h"
#include "gguf/testing/tiny_model.h"

namespace parley {
namespace {

struct Result {
  int exit_code = -1;
  bool signaled = false;
  std::string output;
};

Result RunParley(const std::string& args) {
  std::string cmd = std::string(PARLEY_BINARY) + " " + args + " 2>&1";
  Result r;
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return r;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.output.append(buf.data(), n);
  int status = pclose(p);
  r.signaled = WIFSIGNALED(status);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

std::vector<uint8_t> ReadAll(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(f), {});
}

void WriteAll(const std::string& path, const std::vector<uint8_t>& b) {
  std::ofstream f(path, std::ios::binary);
  if (!b.empty()) f.write(reinterpret_cast<const char*>(b.data()), b.size());
}

// Rewrites a valid tiny model through `edit`, which may drop keys or retype tensors.
std::string Rewritten(const std::string& stem,
                      const std::function<bool(const std::string&, GgufValue&)>& keep_kv,
                      const std::function<void(GgufTensorInfo&, std::vector<uint8_t>&)>& edit_tensor) {
  std::string good = testing::TempModelPath("good");
  EXPECT_TRUE(testing::WriteTinyModel(testing::TinyModelSpec{}, good).ok());
  auto file = GgufFile::Open(good);
  EXPECT_TRUE(file.ok());
  GgufWriter w;
  for (auto [k, v] : (*file)->metadata()) {
    if (keep_kv(k, v)) w.AddKv(k, v);
  }
  for (GgufTensorInfo t : (*file)->tensors()) {
    std::vector<uint8_t> bytes(t.data, t.data + t.size_bytes);
    edit_tensor(t, bytes);
    w.AddTensor(t.name, t.type(), t.ne, bytes);
  }
  std::string path = testing::TempModelPath(stem);
  EXPECT_TRUE(w.WriteFile(path).ok());
  std::remove(good.c_str());
  return path;
}

void ExpectCleanFailure(const std::string& path, const std::string& needle) {
  for (const std::string& args : {"run -m " + path + " -p hi -n 2 -t 1", "inspect " + path}) {
    Result r = RunParley(args);
    bool inspect = args.rfind("inspect", 0) == 0;
    EXPECT_FALSE(r.signaled) << args << " crashed:\n" << r.output;
    if (inspect && r.exit_code == 0) {
      // inspect shows a structurally valid file but must say the model cannot run.
      EXPECT_NE(r.output.find("cannot run"), std::string::npos) << r.output;
      EXPECT_NE(r.output.find(needle), std::string::npos) << r.output;
      continue;
    }
    EXPECT_NE(r.exit_code, 0) << args << "\n" << r.output;
    EXPECT_NE(r.output.find("error: "), std::string::npos) << r.output;
    EXPECT_NE(r.output.find(needle), std::string::npos) << "expected \"" << needle << "\" in:\n" << r.output;
  }
  std::remove(path.c_str());
}

TEST(BadModelTest, GoodTinyModelRuns) {
  std::string path = testing::TempModelPath("good");
  ASSERT_TRUE(testing::WriteTinyModel(testing::TinyModelSpec{}, path).ok());
  Result r = RunParley("run -m " + path + " -p hello -n 4 -t 1");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("tok/s"), std::string::npos) << r.output;
  std::remove(path.c_str());
}

TEST(BadModelTest, MissingFile) {
  ExpectCleanFailure("/nonexistent/model.gguf", "cannot open");
}

TEST(BadModelTest, Truncated) {
  std::string good = testing::TempModelPath("good");
  ASSERT_TRUE(testing::WriteTinyModel(testing::TinyModelSpec{}, good).ok());
  auto bytes = ReadAll(good);
  std::remove(good.c_str());
  for (size_t keep : {size_t(3), size_t(40), bytes.size() / 3, bytes.size() - 100}) {
    std::string path = testing::TempModelPath("trunc");
    WriteAll(path, std::vector<uint8_t>(bytes.begin(), bytes.begin() + keep));
    ExpectCleanFailure(path, keep < 4 ? "not a GGUF file" : "truncated");
  }
}

TEST(BadModelTest, WrongMagic) {
  std::string path = testing::TempModelPath("magic");
  WriteAll(path, std::vector<uint8_t>{'P', 'K', 3, 4, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8});
  ExpectCleanFailure(path, "not a GGUF file");
}

TEST(BadModelTest, UnsupportedVersion) {
  std::string good = testing::TempModelPath("good");
  ASSERT_TRUE(testing::WriteTinyModel(testing::TinyModelSpec{}, good).ok());
  auto bytes = ReadAll(good);
  std::remove(good.c_str());
  uint32_t v = 7;
  std::memcpy(bytes.data() + 4, &v, 4);
  std::string path = testing::TempModelPath("version");
  WriteAll(path, bytes);
  ExpectCleanFailure(path, "unsupported GGUF version 7");
}

TEST(BadModelTest, TensorPastEndOfFile) {
  std::string path = Rewritten("pastend", [](const std::string&, GgufValue&) { return true; },
                               [](GgufTensorInfo&, std::vector<uint8_t>&) {});
  auto bytes = ReadAll(path);
  bytes.resize(bytes.size() - 64);  // the last tensor's data now runs past the end
  WriteAll(path, bytes);
  ExpectCleanFailure(path, "extends past the end of the file");
}

TEST(BadModelTest, MissingRequiredKey) {
  std::string path = Rewritten(
      "nokey", [](const std::string& k, GgufValue&) { return k != "llama.block_count"; },
      [](GgufTensorInfo&, std::vector<uint8_t>&) {});
  ExpectCleanFailure(path, "missing required key llama.block_count");
}

TEST(BadModelTest, MissingTensor) {
  std::string path = Rewritten("notensor", [](const std::string&, GgufValue&) { return true; },
                               [](GgufTensorInfo& t, std::vector<uint8_t>&) {
                                 if (t.name == "blk.1.ffn_up.weight") t.name = "blk.1.ffn_upp.weight";
                               });
  ExpectCleanFailure(path, "missing required tensor blk.1.ffn_up.weight");
}

TEST(BadModelTest, UnsupportedTensorType) {
  // blk.0.attn_q.weight becomes IQ4_NL (type 20: 32-element blocks of 18 bytes), which the
  // reader can bound but Parley cannot compute with.
  std::string path = Rewritten("iq", [](const std::string&, GgufValue&) { return true; },
                               [](GgufTensorInfo& t, std::vector<uint8_t>& bytes) {
                                 if (t.name != "blk.0.attn_q.weight") return;
                                 t.type_id = 20;
                                 bytes.assign(t.rows() * (t.ne[0] / 32) * 18, 0);
                               });
  ExpectCleanFailure(path, "tensor blk.0.attn_q.weight has type IQ4_NL (20), which Parley does not support");
}

TEST(BadModelTest, UnsupportedArchitecture) {
  std::string path = Rewritten("arch",
                               [](const std::string& k, GgufValue& v) {
                                 if (k == "general.architecture") v.strings[0] = "mamba";
                                 return true;
                               },
                               [](GgufTensorInfo&, std::vector<uint8_t>&) {});
  ExpectCleanFailure(path, "architecture \"mamba\" is not supported");
}

}  // namespace
}  // namespace parley
