#include "tokenizer/pre_tokenizer.h"

#include <gtest/gtest.h>

namespace parley {
namespace {

std::vector<std::string> Split(const std::string& pre_name, const std::string& text) {
  StatusOr<PreTokenizer> pre = PreTokenizer::ForName(pre_name);
  EXPECT_TRUE(pre.ok()) << pre.status().message();
  std::vector<std::string> out;
  for (std::string_view p : pre->Split(text)) out.emplace_back(p);
  return out;
}

using V = std::vector<std::string>;

TEST(PreTokenizerTest, Gpt2Pattern) {
  EXPECT_EQ(Split("gpt2", "Hello world, it's 2024!"),
            (V{"Hello", " world", ",", " it", "'s", " 2024", "!"}));
  // A whitespace run before a word leaves its last space to the word.
  EXPECT_EQ(Split("gpt2", "a   b"), (V{"a", "  ", " b"}));
  EXPECT_EQ(Split("gpt2", "a\n\nb  "), (V{"a", "\n", "\n", "b", "  "}));
  EXPECT_EQ(Split("gpt2", "x \n y"), (V{"x", " \n", " y"}));
}

TEST(PreTokenizerTest, SmolLmIsolatesDigits) {
  EXPECT_EQ(Split("smollm", "abc 123"), (V{"abc", " ", "1", "2", "3"}));
  EXPECT_EQ(Split("smollm", "\xD9\xA3x"), (V{"\xD9\xA3", "x"}));  // ARABIC-INDIC DIGIT THREE
}

TEST(PreTokenizerTest, Llama3GroupsDigitsByThree) {
  EXPECT_EQ(Split("llama3", "12345 I'M"), (V{"123", "45", " I", "'M"}));
  EXPECT_EQ(Split("llama3", "a\r\n\r\nb"), (V{"a", "\r\n\r\n", "b"}));
}

TEST(PreTokenizerTest, Qwen2IsolatesDigits) {
  EXPECT_EQ(Split("qwen2", "x=12"), (V{"x", "=", "1", "2"}));
}

TEST(PreTokenizerTest, UnicodeCategoriesAndNel) {
  // Non-ASCII letters group with ASCII ones; U+0085 (NEL) counts as whitespace, as in
  // llama.cpp, and U+00A0 too.
  EXPECT_EQ(Split("gpt2", "caf\xC3\xA9 na\xC3\xAFve"), (V{"caf\xC3\xA9", " na\xC3\xAFve"}));
  EXPECT_EQ(Split("gpt2",
                  "a\xC2\x85\xC2\x85"
                  "b"),
            (V{"a", "\xC2\x85", "\xC2\x85", "b"}));
  EXPECT_EQ(Split("gpt2", "a\xC2\xA0\xC2\xA0"), (V{"a", "\xC2\xA0\xC2\xA0"}));
}

TEST(PreTokenizerTest, DefaultMatchesLlamaCppDefault) {
  EXPECT_EQ(Split("default", "a+b=1234"), (V{"a", "+", "b", "=", "123", "4"}));
  EXPECT_EQ(Split("", "a+b"), (V{"a", "+", "b"}));
}

TEST(PreTokenizerTest, UnknownNameIsAnError) {
  StatusOr<PreTokenizer> pre = PreTokenizer::ForName("tekken9");
  ASSERT_FALSE(pre.ok());
  EXPECT_NE(pre.status().message().find("'tekken9'"), std::string::npos);
  EXPECT_NE(pre.status().message().find("smollm"), std::string::npos);
}

TEST(PreTokenizerTest, CoversTheInput) {
  const std::string text = "  Mixed\ttext\t\t with 3 numbers 42 and \xF0\x9F\x98\x80 emoji!!  ";
  for (const std::string& name : PreTokenizer::KnownNames()) {
    std::string joined;
    for (const std::string& p : Split(name, text)) {
      EXPECT_FALSE(p.empty());
      joined += p;
    }
    EXPECT_EQ(joined, text) << name;
  }
}

}  // namespace
}  // namespace parley
