#include "tokenizer/utf8.h"

#include <gtest/gtest.h>

namespace parley::utf8 {
namespace {

TEST(Utf8Test, EncodesEveryLength) {
  EXPECT_EQ(Encode('a'), "a");
  EXPECT_EQ(Encode(0xE9), "\xC3\xA9");
  EXPECT_EQ(Encode(0x2581), "\xE2\x96\x81");
  EXPECT_EQ(Encode(0x1F600), "\xF0\x9F\x98\x80");
}

TEST(Utf8Test, DecodeOneReplacesMalformedBytesOneByOne) {
  const std::string s = "a\xC3\xA9\xFF\xE2\x96";
  size_t offset = 0;
  EXPECT_EQ(DecodeOne(s, &offset), 'a');
  EXPECT_EQ(DecodeOne(s, &offset), 0xE9u);
  EXPECT_EQ(DecodeOne(s, &offset), kReplacementChar);  // 0xFF
  EXPECT_EQ(offset, 4u);
  EXPECT_EQ(DecodeOne(s, &offset), kReplacementChar);  // truncated E2 96
  EXPECT_EQ(offset, 5u);
  EXPECT_EQ(DecodeOne(s, &offset), kReplacementChar);  // lone continuation
  EXPECT_EQ(offset, 6u);
}

TEST(Utf8Test, SanitizeKeepsValidTextAndReplacesTheRest) {
  EXPECT_EQ(Sanitize("h\xC3\xA9llo \xF0\x9F\x98\x80"), "h\xC3\xA9llo \xF0\x9F\x98\x80");
  EXPECT_EQ(Sanitize("a\xFF"
                     "b"),
            "a\xEF\xBF\xBD"
            "b");
  EXPECT_EQ(Sanitize("\xED\xA0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // surrogate
}

TEST(Utf8Test, IncompleteTail) {
  EXPECT_EQ(IncompleteTailLength(""), 0u);
  EXPECT_EQ(IncompleteTailLength("abc"), 0u);
  EXPECT_EQ(IncompleteTailLength("a\xF0"), 1u);
  EXPECT_EQ(IncompleteTailLength("a\xF0\x9F"), 2u);
  EXPECT_EQ(IncompleteTailLength("a\xF0\x9F\x98"), 3u);
  EXPECT_EQ(IncompleteTailLength("a\xF0\x9F\x98\x80"), 0u);
  EXPECT_EQ(IncompleteTailLength("\xE2\x96"), 2u);
  // Provably invalid tails are not held back.
  EXPECT_EQ(IncompleteTailLength("\xFF"), 0u);
  EXPECT_EQ(IncompleteTailLength("\xE0\x80"), 0u);  // overlong
  EXPECT_EQ(IncompleteTailLength("\xF4\x90"), 0u);  // above U+10FFFF
  EXPECT_EQ(IncompleteTailLength("\x80\x80\x80"), 0u);
}

}  // namespace
}  // namespace parley::utf8
