#include "tokenizer/special_tokens.h"

#include <gtest/gtest.h>

#include "tokenizer/tokenizer.h"

namespace parley {
namespace {

using Fragment = SpecialTokenMatcher::Fragment;

std::string Describe(std::string_view text, const std::vector<Fragment>& fragments) {
  std::string out;
  for (const Fragment& f : fragments) {
    if (!out.empty()) out += "|";
    if (f.token >= 0) {
      out += '#';
      out += std::to_string(f.token);
    } else {
      out += std::string(text.substr(f.begin, f.size));
    }
  }
  return out;
}

class SpecialTokenMatcherTest : public ::testing::Test {
 protected:
  // 0 normal, 1 control "<s>", 2 control "<s><s>", 3 user-defined "<u>", 4 user "  ",
  // 5 user "   ", 6 unknown "<unk>".
  std::vector<std::string> tokens_ = {"a", "<s>", "<s><s>", "<u>", "  ", "   ", "<unk>"};
  std::vector<TokenAttr> attrs_ = {TokenAttr::kNormal,      TokenAttr::kControl,
                                   TokenAttr::kControl,     TokenAttr::kUserDefined,
                                   TokenAttr::kUserDefined, TokenAttr::kUserDefined,
                                   TokenAttr::kUnknown};
  SpecialTokenMatcher matcher_{tokens_, attrs_};
};

TEST_F(SpecialTokenMatcherTest, ControlTokensOnlyWithParseSpecial) {
  const std::string text = "x<s>y<unk>";
  EXPECT_EQ(Describe(text, matcher_.Partition(text, true)), "x|#1|y|#6");
  EXPECT_EQ(Describe(text, matcher_.Partition(text, false)), "x<s>y<unk>");
}

TEST_F(SpecialTokenMatcherTest, UserDefinedAlwaysMatched) {
  const std::string text = "a<u>b";
  EXPECT_EQ(Describe(text, matcher_.Partition(text, false)), "a|#3|b");
}

TEST_F(SpecialTokenMatcherTest, LongestTokenFirst) {
  const std::string text = "<s><s><s>";
  EXPECT_EQ(Describe(text, matcher_.Partition(text, true)), "#2|#1");
  // Five spaces: the 3-space token takes the leftmost run, then a 2-space token.
  const std::string spaces = "x     y";
  EXPECT_EQ(Describe(spaces, matcher_.Partition(spaces, false)), "x|#5|#4|y");
}

TEST_F(SpecialTokenMatcherTest, EmptyAndPlainText) {
  EXPECT_TRUE(matcher_.Partition("", true).empty());
  EXPECT_EQ(Describe("hello", matcher_.Partition("hello", true)), "hello");
  EXPECT_EQ(matcher_.num_special_tokens(), 6u);
}

}  // namespace
}  // namespace parley
