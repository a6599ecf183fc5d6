#include "tokenizer/spm_tokenizer.h"

#include <gtest/gtest.h>

#include <cstdio>

namespace parley {
namespace {

constexpr const char* kSp = "\xE2\x96\x81";  // U+2581

// A tiny SentencePiece vocabulary: specials, 256 byte tokens, then scored pieces.
struct TinySpm {
  TokenizerSpec spec;
  int32_t Add(const std::string& text, float score, TokenAttr attr = TokenAttr::kNormal) {
    spec.tokens.push_back(text);
    spec.scores.push_back(score);
    spec.token_types.push_back(static_cast<int32_t>(attr));
    return static_cast<int32_t>(spec.tokens.size()) - 1;
  }
  TinySpm() {
    spec.model = "llama";
    Add("<unk>", 0, TokenAttr::kUnknown);  // 0
    Add("<s>", 0, TokenAttr::kControl);    // 1
    Add("</s>", 0, TokenAttr::kControl);   // 2
    for (int b = 0; b < 256; ++b) {        // 3..258
      char name[8];
      std::snprintf(name, sizeof(name), "<0x%02X>", b);
      Add(name, 0, TokenAttr::kByte);
    }
  }
  int32_t Byte(int b) const { return 3 + b; }
  std::unique_ptr<Tokenizer> Build() {
    StatusOr<std::unique_ptr<Tokenizer>> tok = Tokenizer::FromSpec(spec);
    EXPECT_TRUE(tok.ok()) << tok.status().message();
    return std::move(tok).value();
  }
};

TEST(SpmTokenizerTest, HighestScoreMergesFirst) {
  TinySpm v;
  const int32_t a = v.Add("a", -1), b = v.Add("b", -1), c = v.Add("c", -1);
  const int32_t ab = v.Add("ab", -3);
  const int32_t bc = v.Add("bc", -2);
  v.spec.add_space_prefix = false;
  auto tok = v.Build();
  EXPECT_EQ(tok->Encode("abc", false, false), (std::vector<int32_t>{a, bc}));
  EXPECT_EQ(tok->Encode("ab", false, false), (std::vector<int32_t>{ab}));
  EXPECT_EQ(tok->Encode("cab", false, false), (std::vector<int32_t>{c, ab}));
  (void)b;
}

TEST(SpmTokenizerTest, MergesContinueOnMergedSymbols) {
  TinySpm v;
  v.Add("a", -1);
  v.Add("b", -1);
  v.Add("c", -1);
  v.Add("bc", -2);
  const int32_t abc = v.Add("abc", -5);
  v.spec.add_space_prefix = false;
  auto tok = v.Build();
  EXPECT_EQ(tok->Encode("abc", false, false), (std::vector<int32_t>{abc}));
}

TEST(SpmTokenizerTest, EqualScoresMergeLeftmostFirst) {
  TinySpm v;
  const int32_t a = v.Add("a", -1);
  const int32_t aa = v.Add("aa", -2);
  v.spec.add_space_prefix = false;
  auto tok = v.Build();
  EXPECT_EQ(tok->Encode("aaa", false, false), (std::vector<int32_t>{aa, a}));
}

TEST(SpmTokenizerTest, SpacesBecomeU2581AndSpacePrefix) {
  TinySpm v;
  const int32_t sp = v.Add(kSp, -1);
  const int32_t spa = v.Add(std::string(kSp) + "a", -1);
  const int32_t a = v.Add("a", -1);
  v.spec.add_space_prefix = true;  // the SPM default
  auto tok = v.Build();
  EXPECT_EQ(tok->Encode("a a", false, false), (std::vector<int32_t>{spa, spa}));
  EXPECT_EQ(tok->Encode("a", true, false), (std::vector<int32_t>{1, spa}));  // BOS: the default
  // After a special token the next text gets the prefix again.
  EXPECT_EQ(tok->Encode("a</s>a", false, true), (std::vector<int32_t>{spa, 2, spa}));
  EXPECT_EQ(tok->Decode({spa, sp, a}), " a a");
}

TEST(SpmTokenizerTest, ByteFallbackForUnknownCharacters) {
  TinySpm v;
  const int32_t a = v.Add("a", -1);
  v.spec.add_space_prefix = false;
  auto tok = v.Build();
  // U+00E9 is not a piece: its two UTF-8 bytes become byte tokens.
  EXPECT_EQ(tok->Encode("a\xC3\xA9", false, false),
            (std::vector<int32_t>{a, v.Byte(0xC3), v.Byte(0xA9)}));
  // Invalid UTF-8 is kept as bytes too, and decodes back unchanged. Like llama.cpp, the
  // symbol length comes from the lead byte alone, so 0xFF swallows the next byte.
  const std::vector<int32_t> ids = tok->Encode(
      "\xFF"
      "aaaa",
      false, false);
  EXPECT_EQ(ids, (std::vector<int32_t>{v.Byte(0xFF), v.Byte('a'), v.Byte('a'), v.Byte('a'), a}));
  EXPECT_EQ(tok->Decode(ids),
            "\xFF"
            "aaaa");
  // Without a U+2581 piece a space falls back to its three bytes and decodes as U+2581.
  const std::string expected = std::string("a") + kSp + "a";
  EXPECT_EQ(tok->Decode(tok->Encode("a a", false, false)), expected);
}

TEST(SpmTokenizerTest, DecodeInvertsEncode) {
  TinySpm v;
  v.Add("a", -1);
  v.Add(kSp, -1);
  v.spec.add_space_prefix = false;
  auto tok = v.Build();
  for (const std::string text : {"a\xC3\xA9 a", "  a  ", "\xF0\x9F\x98\x80 a\n"}) {
    EXPECT_EQ(tok->Decode(tok->Encode(text, false, false)), text);
  }
}

TEST(SpmTokenizerTest, SpecialTokensAndUserDefined) {
  TinySpm v;
  const int32_t a = v.Add("a", -1);
  const int32_t img = v.Add("<img>", -1000, TokenAttr::kUserDefined);
  const int32_t nl2 = v.Add("\n\n", -1000, TokenAttr::kUserDefined);
  const int32_t lt = v.Add("<", -1);
  v.spec.add_space_prefix = false;
  auto tok = v.Build();
  EXPECT_EQ(tok->Encode("a<img>a\n\na", false, false), (std::vector<int32_t>{a, img, a, nl2, a}));
  EXPECT_EQ(tok->Encode("<s>a", false, true), (std::vector<int32_t>{1, a}));
  const std::vector<int32_t> literal = tok->Encode("<s>", false, false);
  EXPECT_EQ(literal.front(), lt);
  EXPECT_EQ(tok->Decode(literal), "<s>");
  // Control tokens decode only on request; user-defined ones always.
  EXPECT_EQ(tok->Decode({1, a, img}), "a<img>");
  EXPECT_EQ(tok->Decode({1, a, img}, /*include_special=*/true), "<s>a<img>");
}

TEST(SpmTokenizerTest, AddBosAndEosFlags) {
  TinySpm v;
  const int32_t a = v.Add("a", -1);
  v.spec.add_space_prefix = false;
  v.spec.add_bos = false;
  v.spec.add_eos = true;
  auto tok = v.Build();
  EXPECT_EQ(tok->Encode("a", true, false), (std::vector<int32_t>{a, 2}));
  EXPECT_EQ(tok->Encode("a", false, false), (std::vector<int32_t>{a}));
  EXPECT_EQ(tok->Encode("", false, false), (std::vector<int32_t>{}));
  EXPECT_FALSE(tok->add_bos());
}

}  // namespace
}  // namespace parley
