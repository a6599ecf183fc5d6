#include "tokenizer/tokenizer.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>

#include "gguf/gguf_writer.h"

namespace parley {
namespace {

// SPM vocabulary with byte tokens and Gemma-like end-of-turn tokens.
TokenizerSpec SpmSpec() {
  TokenizerSpec spec;
  spec.model = "llama";
  auto add = [&](const std::string& text, TokenAttr attr, float score = 0) {
    spec.tokens.push_back(text);
    spec.scores.push_back(score);
    spec.token_types.push_back(static_cast<int32_t>(attr));
  };
  add("<pad>", TokenAttr::kControl);            // 0
  add("<eos>", TokenAttr::kControl);            // 1
  add("<bos>", TokenAttr::kControl);            // 2
  add("<unk>", TokenAttr::kUnknown);            // 3
  add("<start_of_turn>", TokenAttr::kControl);  // 4
  add("<end_of_turn>", TokenAttr::kControl);    // 5
  for (int b = 0; b < 256; ++b) {               // 6..261
    char name[8];
    std::snprintf(name, sizeof(name), "<0x%02X>", b);
    add(name, TokenAttr::kByte);
  }
  add("a", TokenAttr::kNormal, -1);  // 262
  spec.bos_id = 2;
  spec.eos_id = 1;
  spec.unk_id = 3;
  spec.add_space_prefix = false;
  return spec;
}

std::unique_ptr<Tokenizer> Build(TokenizerSpec spec) {
  StatusOr<std::unique_ptr<Tokenizer>> tok = Tokenizer::FromSpec(std::move(spec));
  EXPECT_TRUE(tok.ok()) << tok.status().message();
  return std::move(tok).value();
}

int32_t ByteId(int b) { return 6 + b; }

TEST(TokenizerTest, UnknownModelIsAnError) {
  TokenizerSpec spec = SpmSpec();
  spec.model = "t5";
  StatusOr<std::unique_ptr<Tokenizer>> tok = Tokenizer::FromSpec(spec);
  ASSERT_FALSE(tok.ok());
  EXPECT_NE(tok.status().message().find("'t5'"), std::string::npos);
}

TEST(TokenizerTest, MismatchedArraysAreErrors) {
  TokenizerSpec spec = SpmSpec();
  spec.token_types.pop_back();
  EXPECT_FALSE(Tokenizer::FromSpec(spec).ok());
  spec = SpmSpec();
  spec.scores.pop_back();
  EXPECT_FALSE(Tokenizer::FromSpec(spec).ok());
  spec = SpmSpec();
  spec.tokens.clear();
  spec.scores.clear();
  spec.token_types.clear();
  EXPECT_FALSE(Tokenizer::FromSpec(spec).ok());
}

TEST(TokenizerTest, EndOfGenerationAndLookup) {
  auto tok = Build(SpmSpec());
  EXPECT_TRUE(tok->IsEndOfGeneration(1));  // eos
  EXPECT_TRUE(tok->IsEndOfGeneration(5));  // <end_of_turn>, by text
  EXPECT_FALSE(tok->IsEndOfGeneration(4));
  EXPECT_FALSE(tok->IsEndOfGeneration(2));
  EXPECT_EQ(tok->FindToken("<start_of_turn>"), 4);
  EXPECT_EQ(tok->FindToken("nope"), -1);
  EXPECT_EQ(tok->bos_id(), 2);
  EXPECT_EQ(tok->eos_id(), 1);
  EXPECT_TRUE(tok->add_bos());
  EXPECT_EQ(tok->vocab_size(), 263);
  EXPECT_EQ(tok->token_attr(ByteId(0)), TokenAttr::kByte);
}

TEST(TokenizerTest, OutOfRangeIdsFallBackToDefaults) {
  TokenizerSpec spec = SpmSpec();
  spec.bos_id = 100000;  // llama.cpp keeps the SPM default (1) for a bad id
  auto tok = Build(spec);
  EXPECT_EQ(tok->bos_id(), 1);
}

TEST(StreamingDetokenizerTest, EmojiSplitOverByteTokens) {
  auto tok = Build(SpmSpec());
  // U+1F600 = F0 9F 98 80, as four byte tokens.
  StreamingDetokenizer stream(*tok);
  EXPECT_EQ(stream.Feed(262), "a");
  EXPECT_EQ(stream.Feed(ByteId(0xF0)), "");
  EXPECT_EQ(stream.Feed(ByteId(0x9F)), "");
  EXPECT_EQ(stream.Feed(ByteId(0x98)), "");
  EXPECT_EQ(stream.Feed(ByteId(0x80)), "\xF0\x9F\x98\x80");
  EXPECT_EQ(stream.Feed(262), "a");
  EXPECT_EQ(stream.Flush(), "");
}

TEST(StreamingDetokenizerTest, InvalidBytesDoNotBlock) {
  auto tok = Build(SpmSpec());
  StreamingDetokenizer stream(*tok);
  EXPECT_EQ(stream.Feed(ByteId(0xFF)), "\xFF");  // never valid
  EXPECT_EQ(stream.Feed(ByteId(0xE2)), "");      // could start a character
  EXPECT_EQ(stream.Feed(262),
            "\xE2"
            "a");  // ...but did not
  EXPECT_EQ(stream.Feed(ByteId(0xE0)), "");
  EXPECT_EQ(stream.Feed(ByteId(0x80)), "\xE0\x80");  // overlong: provably invalid
  EXPECT_EQ(stream.Feed(ByteId(0xC3)), "");
  EXPECT_EQ(stream.Flush(), "\xC3");  // end of generation
}

TEST(StreamingDetokenizerTest, SpecialTokensOnlyWhenAsked) {
  auto tok = Build(SpmSpec());
  StreamingDetokenizer plain(*tok);
  EXPECT_EQ(plain.Feed(5), "");
  StreamingDetokenizer with_special(*tok, /*include_special=*/true);
  EXPECT_EQ(with_special.Feed(5), "<end_of_turn>");
}

std::string TempPath(const std::string& name) {
  return (std::filesystem::temp_directory_path() /
          ("parley_tokenizer_test_" + std::to_string(::getpid()) + "_" + name))
      .string();
}

TEST(TokenizerTest, FromGgufReadsTheTokenizerKeys) {
  TokenizerSpec spec = SpmSpec();
  GgufWriter w;
  w.AddKv("general.architecture", GgufValue::Str("gemma3"));
  w.AddKv("tokenizer.ggml.model", GgufValue::Str("llama"));
  w.AddKv("tokenizer.ggml.pre", GgufValue::Str("default"));
  w.AddKv("tokenizer.ggml.tokens", GgufValue::StrArray(spec.tokens));
  w.AddKv("tokenizer.ggml.scores", GgufValue::F32Array(spec.scores));
  w.AddKv("tokenizer.ggml.token_type", GgufValue::I32Array(spec.token_types));
  w.AddKv("tokenizer.ggml.bos_token_id", GgufValue::U32(2));
  w.AddKv("tokenizer.ggml.eos_token_id", GgufValue::U32(1));
  w.AddKv("tokenizer.ggml.add_bos_token", GgufValue::Bool(true));
  w.AddKv("tokenizer.ggml.add_space_prefix", GgufValue::Bool(false));
  const std::string path = TempPath("spm.gguf");
  ASSERT_TRUE(w.WriteFile(path).ok());
  StatusOr<std::unique_ptr<GgufFile>> gguf = GgufFile::Open(path);
  ASSERT_TRUE(gguf.ok()) << gguf.status().message();
  StatusOr<std::unique_ptr<Tokenizer>> tok = Tokenizer::FromGguf(**gguf);
  ASSERT_TRUE(tok.ok()) << tok.status().message();
  EXPECT_EQ((*tok)->Encode("<start_of_turn>a", true, true), (std::vector<int32_t>{2, 4, 262}));
  std::filesystem::remove(path);
}

TEST(TokenizerTest, FromGgufNamesAnUnknownModel) {
  GgufWriter w;
  w.AddKv("tokenizer.ggml.model", GgufValue::Str("rwkv"));
  w.AddKv("tokenizer.ggml.tokens", GgufValue::StrArray({"a", "b"}));
  const std::string path = TempPath("rwkv.gguf");
  ASSERT_TRUE(w.WriteFile(path).ok());
  StatusOr<std::unique_ptr<GgufFile>> gguf = GgufFile::Open(path);
  ASSERT_TRUE(gguf.ok()) << gguf.status().message();
  StatusOr<std::unique_ptr<Tokenizer>> tok = Tokenizer::FromGguf(**gguf);
  ASSERT_FALSE(tok.ok());
  EXPECT_NE(tok.status().message().find("'rwkv'"), std::string::npos);
  EXPECT_NE(tok.status().message().find(path), std::string::npos);
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace parley
