// Model config reading from GGUF metadata: corrupt values are refused by name.
#include "model/config.h"

#include <gtest/gtest.h>

#include <cstdio>

#include "gguf/gguf.h"
#include "gguf/gguf_writer.h"
#include "gguf/testing/tiny_model.h"

namespace parley {
namespace {

// A file with only metadata: `arch` and its block_count.
std::unique_ptr<GgufFile> FileWithLayers(const std::string& arch, uint32_t layers) {
  GgufWriter w;
  w.AddKv("general.architecture", GgufValue::Str(arch));
  w.AddKv(arch + ".block_count", GgufValue::U32(layers));
  w.AddKv(arch + ".embedding_length", GgufValue::U32(64));
  w.AddKv(arch + ".attention.head_count", GgufValue::U32(4));
  w.AddKv(arch + ".feed_forward_length", GgufValue::U32(96));
  const std::string path = testing::TempModelPath("config_layers");
  EXPECT_TRUE(w.WriteFile(path).ok());
  auto file = GgufFile::Open(path);
  std::remove(path.c_str());
  EXPECT_TRUE(file.ok()) << file.status().message();
  return std::move(*file);
}

// Found by fuzz/gguf_fuzz: 2^30 layers sized per-layer arrays from the count (GBs, tens of
// seconds) before any other check failed.
TEST(ModelConfigTest, AbsurdLayerCountIsRefusedByName) {
  for (const char* arch : {"llama", "gemma3"}) {
    auto config = ReadModelConfig(*FileWithLayers(arch, 1u << 30));
    ASSERT_FALSE(config.ok()) << arch;
    EXPECT_NE(config.status().message().find(std::string(arch) + ".block_count"),
              std::string::npos)
        << config.status().message();
  }
}

TEST(ModelConfigTest, LayerCountAtTheBoundIsNotRefusedForIt) {
  auto config = ReadModelConfig(*FileWithLayers("llama", kMaxModelLayers));
  // Other checks may still refuse this skeleton file, but not for its layer count.
  if (!config.ok()) {
    EXPECT_EQ(config.status().message().find("block_count"), std::string::npos)
        << config.status().message();
  }
}

}  // namespace
}  // namespace parley
