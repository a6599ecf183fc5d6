#include "tokenizer/bpe_tokenizer.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

namespace parley {
namespace {

// A tiny byte-level vocabulary: two control tokens, all 256 byte symbols, then merge results.
struct TinyBpe {
  TokenizerSpec spec;
  int32_t Add(const std::string& text, TokenAttr attr = TokenAttr::kNormal) {
    spec.tokens.push_back(text);
    spec.token_types.push_back(static_cast<int32_t>(attr));
    return static_cast<int32_t>(spec.tokens.size()) - 1;
  }
  // Adds the merge "left right" and its result as a token.
  int32_t Merge(const std::string& left, const std::string& right) {
    spec.merges.push_back(left + " " + right);
    return Add(left + right);
  }
  TinyBpe() {
    spec.model = "gpt2";
    spec.pre = "smollm";
    Add("<|endoftext|>", TokenAttr::kControl);                            // 0
    Add("<|im_end|>", TokenAttr::kControl);                               // 1
    for (int b = 0; b < 256; ++b) Add(BpeTokenizer::ByteToUnicode()[b]);  // 2..257
    spec.bos_id = 0;
    spec.eos_id = 1;
  }
  int32_t Byte(int b) const { return 2 + b; }
  std::unique_ptr<Tokenizer> Build() {
    StatusOr<std::unique_ptr<Tokenizer>> tok = Tokenizer::FromSpec(spec);
    EXPECT_TRUE(tok.ok()) << tok.status().message();
    return std::move(tok).value();
  }
};

TEST(BpeTokenizerTest, ByteToUnicodeMap) {
  const auto& m = BpeTokenizer::ByteToUnicode();
  EXPECT_EQ(m[' '], "\xC4\xA0");   // U+0120 'Ġ'
  EXPECT_EQ(m['\n'], "\xC4\x8A");  // U+010A 'Ċ'
  EXPECT_EQ(m['\t'], "\xC4\x89");  // U+0109
  EXPECT_EQ(m['A'], "A");
  EXPECT_EQ(m[0xAD], "\xC5\x83");  // U+0143, the last remapped byte
}

TEST(BpeTokenizerTest, LowestRankMergesFirst) {
  {
    TinyBpe v;
    const int32_t bc = v.Merge("b", "c");
    v.Merge("a", "b");
    auto tok = v.Build();
    EXPECT_EQ(tok->Encode("abc", false, false), (std::vector<int32_t>{v.Byte('a'), bc}));
  }
  {
    TinyBpe v;
    const int32_t ab = v.Merge("a", "b");
    v.Merge("b", "c");
    auto tok = v.Build();
    EXPECT_EQ(tok->Encode("abc", false, false), (std::vector<int32_t>{ab, v.Byte('c')}));
  }
}

TEST(BpeTokenizerTest, MergesBuildWordsAcrossTheSpaceMarker) {
  TinyBpe v;
  const std::string G = "\xC4\xA0";  // 'Ġ'
  v.Merge("h", "e");
  v.Merge("l", "l");
  v.Merge("he", "ll");
  const int32_t hello = v.Merge("hell", "o");
  v.Merge(G, "w");
  v.Merge(G + "w", "o");
  const int32_t gwor = v.Merge(G + "wo", "r");
  auto tok = v.Build();
  EXPECT_EQ(tok->Encode("hello wor", false, false), (std::vector<int32_t>{hello, gwor}));
  EXPECT_EQ(tok->Decode({hello, gwor}), "hello wor");
}

TEST(BpeTokenizerTest, PreTokenizerBoundsMerges) {
  TinyBpe v;
  v.Merge("1", "2");  // never applies: smollm isolates digits
  const int32_t ab = v.Merge("a", "b");
  auto tok = v.Build();
  EXPECT_EQ(tok->Encode("12ab", false, false),
            (std::vector<int32_t>{v.Byte('1'), v.Byte('2'), ab}));
}

TEST(BpeTokenizerTest, NonAsciiAndInvalidUtf8) {
  TinyBpe v;
  auto tok = v.Build();
  // U+00E9 is two bytes -> two byte-symbols.
  EXPECT_EQ(tok->Encode("\xC3\xA9", false, false),
            (std::vector<int32_t>{v.Byte(0xC3), v.Byte(0xA9)}));
  // Invalid bytes become U+FFFD (EF BF BD) first, like llama.cpp.
  EXPECT_EQ(tok->Encode("\xFF", false, false),
            (std::vector<int32_t>{v.Byte(0xEF), v.Byte(0xBF), v.Byte(0xBD)}));
  const std::string text = "Grüße, 世界! \xF0\x9F\x98\x80\n\ttab";
  EXPECT_EQ(tok->Decode(tok->Encode(text, false, false)), text);
}

TEST(BpeTokenizerTest, SpecialTokensAndFlags) {
  TinyBpe v;
  const int32_t hi = v.Merge("h", "i");
  auto tok = v.Build();
  EXPECT_FALSE(tok->add_bos());  // GPT-2 default: no BOS
  EXPECT_EQ(tok->Encode("hi<|im_end|>", true, true), (std::vector<int32_t>{hi, 1}));
  EXPECT_EQ(tok->Encode("<|im_end|>", false, false).size(), 10u);  // literal bytes
  EXPECT_EQ(tok->Decode({hi, 1}), "hi");
  EXPECT_EQ(tok->Decode({hi, 1}, true), "hi<|im_end|>");
  EXPECT_TRUE(tok->IsEndOfGeneration(1));
  EXPECT_TRUE(tok->IsEndOfGeneration(0));  // <|endoftext|>
  EXPECT_FALSE(tok->IsEndOfGeneration(hi));
}

TEST(BpeTokenizerTest, Llama3PreTokenizerAddsBosAndIgnoresMerges) {
  TinyBpe v;
  v.spec.pre = "llama3";
  v.spec.merges = {"x y"};  // "abc" is a token without any merge leading to it
  const int32_t abc = v.Add("abc");
  v.Add("xy");
  auto tok = v.Build();
  EXPECT_TRUE(tok->add_bos());
  EXPECT_EQ(tok->Encode("abc", true, false), (std::vector<int32_t>{0, abc}));
}

TEST(BpeTokenizerTest, ConcurrentEncodesAgree) {
  TinyBpe v;
  v.Merge("h", "e");
  v.Merge("he", "llo");
  auto tok = v.Build();
  const std::string text = "hello world 123 <|im_end|> h\xC3\xA9llo\n\n  x";
  const std::vector<int32_t> expected = tok->Encode(text, true, true);
  std::vector<std::thread> threads;
  std::atomic<int> mismatches{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 200; ++i) {
        if (tok->Encode(text, true, true) != expected) ++mismatches;
      }
    });
  }
  for (std::thread& th : threads) th.join();
  EXPECT_EQ(mismatches.load(), 0);
}

TEST(BpeTokenizerTest, UnknownPreTokenizerIsAnError) {
  TinyBpe v;
  v.spec.pre = "no-such-pre";
  StatusOr<std::unique_ptr<Tokenizer>> tok = Tokenizer::FromSpec(v.spec);
  ASSERT_FALSE(tok.ok());
  EXPECT_NE(tok.status().message().find("'no-such-pre'"), std::string::npos);
}

}  // namespace
}  // namespace parley
