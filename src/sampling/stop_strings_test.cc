// Tests for StopMatcher: the streamed output must equal "the text up to the first stop
// occurrence" however the text is cut into pieces (checked exhaustively for two and three
// pieces, byte by byte, and on random inputs), and must never split a UTF-8 character.
#include "sampling/stop_strings.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace parley {
namespace {

struct Outcome {
  std::string text;
  bool stopped = false;
  std::string matched;
  bool operator==(const Outcome&) const = default;
};

std::ostream& operator<<(std::ostream& os, const Outcome& o) {
  return os << "{\"" << o.text << "\", stopped=" << o.stopped << ", matched=\"" << o.matched << "\"}";
}

// The earliest-starting stop occurrence in the whole text (the longest on an equal start).
Outcome Reference(const std::string& text, const std::vector<std::string>& stops) {
  size_t best = std::string::npos;
  std::string matched;
  for (const std::string& s : stops) {
    if (s.empty()) continue;
    const size_t p = text.find(s);
    if (p == std::string::npos) continue;
    if (p < best || (p == best && s.size() > matched.size())) {
      best = p;
      matched = s;
    }
  }
  if (best == std::string::npos) return {text, false, ""};
  return {text.substr(0, best), true, matched};
}

// True when `s` is a sequence of whole, well-formed UTF-8 characters.
bool IsWholeUtf8(const std::string& s) {
  for (size_t i = 0; i < s.size();) {
    const unsigned char c = s[i];
    const size_t n = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    for (size_t j = 1; j < n; ++j) {
      if ((static_cast<unsigned char>(s[i + j]) & 0xC0) != 0x80) return false;
    }
    i += n;
  }
  return true;
}

// Feeds `text` cut at `cuts` (ascending byte offsets), then flushes; every returned piece
// must be whole UTF-8 (the inputs here are valid UTF-8).
Outcome Stream(const std::vector<std::string>& stops, const std::string& text, const std::vector<size_t>& cuts) {
  StopMatcher m(stops);
  Outcome out;
  size_t begin = 0;
  std::vector<size_t> ends = cuts;
  ends.push_back(text.size());
  for (size_t end : ends) {
    std::string piece = m.Feed(std::string_view(text).substr(begin, end - begin));
    EXPECT_TRUE(IsWholeUtf8(piece)) << "piece \"" << piece << "\" of \"" << text << "\"";
    out.text += piece;
    begin = end;
  }
  const bool stopped_before_flush = m.stopped();
  std::string rest = m.Flush();
  EXPECT_TRUE(IsWholeUtf8(rest));
  EXPECT_TRUE(rest.empty() || !stopped_before_flush);
  out.text += rest;
  out.stopped = m.stopped();
  out.matched = m.matched();
  return out;
}

void CheckAllSplits(const std::string& text, const std::vector<std::string>& stops) {
  SCOPED_TRACE("text \"" + text + "\"");
  const Outcome want = Reference(text, stops);
  ASSERT_EQ(Stream(stops, text, {}), want);
  for (size_t i = 0; i <= text.size(); ++i) {
    ASSERT_EQ(Stream(stops, text, {i}), want) << "cut at " << i;
    for (size_t j = i; j <= text.size(); ++j) {
      ASSERT_EQ(Stream(stops, text, {i, j}), want) << "cuts at " << i << ", " << j;
    }
  }
  std::vector<size_t> every_byte;
  for (size_t i = 1; i < text.size(); ++i) every_byte.push_back(i);
  ASSERT_EQ(Stream(stops, text, every_byte), want) << "byte by byte";
}

TEST(StopMatcherTest, EveryTwoAndThreePieceSplitMatchesTheReference) {
  const std::vector<std::pair<std::string, std::vector<std::vector<std::string>>>> cases = {
      {"Hello world! The END is near. END",
       {{"END"}, {"END", "near"}, {"is near", "END is"}, {"xyz"}, {"!"}, {"d! T", "world"}, {}}},
      {"abcabcabd",
       {{"abd"}, {"bca", "cab"}, {"ab", "bc"}, {"abcabd"}, {"cabd", "abca"}, {"bd", "abcabcabx"}}},
      {"aaab", {{"aab"}, {"aaaa"}, {"a"}, {"b", "ab", "aab"}}},
      {"STOP then text", {{"STOP"}, {"S", "STOP"}, {"STOPX", "then"}}},
      {"héllo 世界 🙂 done 世",
       {{"世界"}, {"🙂"}, {"界 🙂"}, {"o 世"}, {"世x"}, {"🙂 d", "界"}, {"llo"}, {"é"},
        {"done 世界"}, {"🙃"}, {"🙃", "世"}, {"éz", "界 🙃", "done"}}},
      {"🙂🙃🙂", {{"🙃"}, {"🙂🙂"}, {"🙃🙂", "🙂🙃🙂x"}}},
  };
  for (const auto& [text, stop_sets] : cases) {
    for (const auto& stops : stop_sets) CheckAllSplits(text, stops);
  }
}

TEST(StopMatcherTest, RandomTextsStopsAndCuts) {
  const std::vector<std::string> alphabet = {"a", "b", "é", "世", "🙂", "🙃"};
  std::mt19937 rng(1234);
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  auto word = [&](int len) {
    std::string s;
    for (int i = 0; i < len; ++i) s += alphabet[pick(0, alphabet.size() - 1)];
    return s;
  };
  for (int iter = 0; iter < 3000; ++iter) {
    const std::string text = word(pick(0, 12));
    std::vector<std::string> stops;
    for (int i = pick(0, 3); i > 0; --i) stops.push_back(word(pick(1, 3)));
    std::vector<size_t> cuts;
    for (size_t i = 1; i < text.size(); ++i) {
      if (pick(0, 3) == 0) cuts.push_back(i);
    }
    ASSERT_EQ(Stream(stops, text, cuts), Reference(text, stops)) << "text \"" << text << "\"";
  }
}

TEST(StopMatcherTest, OverlappingStopsEarliestStartWins) {
  StopMatcher m({"ab", "bc"});
  EXPECT_EQ(m.Feed("abc"), "");
  EXPECT_TRUE(m.stopped());
  EXPECT_EQ(m.matched(), "ab");
  StopMatcher n({"ab", "bc"});
  EXPECT_EQ(n.Feed("xbc"), "x");
  EXPECT_EQ(n.matched(), "bc");
}

TEST(StopMatcherTest, ALongerStopStartingEarlierIsAwaited) {
  StopMatcher m({"bc", "abcd"});
  EXPECT_EQ(m.Feed("abc"), "");  // "bc" is complete, but "abcd" may still start at 0
  EXPECT_FALSE(m.stopped());
  EXPECT_EQ(m.Feed("e"), "a");
  EXPECT_TRUE(m.stopped());
  EXPECT_EQ(m.matched(), "bc");
  StopMatcher n({"bc", "abcd"});
  EXPECT_EQ(n.Feed("abc"), "");
  EXPECT_EQ(n.Feed("d"), "");
  EXPECT_EQ(n.matched(), "abcd");
  // On an equal start the longest wins.
  StopMatcher o({"ab", "abc"});
  EXPECT_EQ(o.Feed("ab"), "");
  EXPECT_FALSE(o.stopped());
  EXPECT_EQ(o.Feed("cd"), "");
  EXPECT_EQ(o.matched(), "abc");
}

TEST(StopMatcherTest, FlushSettlesAStopThatWaitedOnALongerOne) {
  StopMatcher m({"b", "bcd"});
  EXPECT_EQ(m.Feed("abc"), "a");  // "b" is complete, but "bcd" may still start at 1
  EXPECT_FALSE(m.stopped());
  EXPECT_EQ(m.Flush(), "");  // the generation ended: "b" wins
  EXPECT_TRUE(m.stopped());
  EXPECT_EQ(m.matched(), "b");
}

TEST(StopMatcherTest, StopAtTheVeryStart) {
  StopMatcher m({"STOP"});
  EXPECT_EQ(m.Feed("ST"), "");
  EXPECT_EQ(m.Feed("OP and more"), "");
  EXPECT_TRUE(m.stopped());
  EXPECT_EQ(m.matched(), "STOP");
  EXPECT_EQ(m.Feed("later"), "");
  EXPECT_EQ(m.Flush(), "");
}

TEST(StopMatcherTest, HeldBackTextIsReleasedWhenItDivergesOrAtFlush) {
  StopMatcher m({"END"});
  EXPECT_EQ(m.Feed("abcEN"), "abc");
  EXPECT_EQ(m.Feed("x"), "ENx");
  EXPECT_EQ(m.Feed("E"), "");
  EXPECT_EQ(m.Flush(), "E");
  EXPECT_FALSE(m.stopped());
  EXPECT_EQ(m.matched(), "");
}

TEST(StopMatcherTest, NoStopsReturnsTheInputImmediately) {
  StopMatcher m({});
  EXPECT_EQ(m.Feed("hello "), "hello ");
  EXPECT_EQ(m.Feed("世界 🙂"), "世界 🙂");
  EXPECT_EQ(m.Flush(), "");
  StopMatcher empty({"", ""});  // empty stop strings are ignored
  EXPECT_EQ(empty.Feed("abc"), "abc");
  EXPECT_FALSE(empty.stopped());
}

TEST(StopMatcherTest, IncompleteUtf8IsHeldUntilTheCharacterCompletes) {
  const std::string emoji = "🙂";  // F0 9F 99 82
  StopMatcher m({});
  EXPECT_EQ(m.Feed(emoji.substr(0, 1)), "");
  EXPECT_EQ(m.Feed(emoji.substr(1, 2)), "");
  EXPECT_EQ(m.Feed(emoji.substr(3) + "a" + emoji.substr(0, 2)), emoji + "a");
  EXPECT_EQ(m.Flush(), emoji.substr(0, 2));  // the end of generation gives what is left
  // A stop sharing the emoji's first three bytes holds them, then lets the emoji through.
  StopMatcher n({"🙃"});
  EXPECT_EQ(n.Feed(std::string("x").append(emoji, 0, 3)), "x");
  EXPECT_EQ(n.Feed(emoji.substr(3)), emoji);
  // A CJK stop split mid-character.
  const std::string cjk = "世界";
  StopMatcher o({"界"});
  EXPECT_EQ(o.Feed(cjk.substr(0, 4)), "世");
  EXPECT_EQ(o.Feed(cjk.substr(4)), "");
  EXPECT_TRUE(o.stopped());
}

TEST(StopMatcherTest, InvalidBytesAreNotHeldForever) {
  StopMatcher m({});
  EXPECT_EQ(m.Feed("\x80\x80"), "\x80\x80");  // stray continuation bytes
  EXPECT_EQ(m.Feed("a\xff"), "a\xff");        // a byte that leads nothing
  EXPECT_EQ(m.Feed("\xe4\xb8"), "");          // a well-formed, incomplete prefix waits
  EXPECT_EQ(m.Feed("z"), "\xe4\xb8z");        // and goes out once it cannot complete
}

}  // namespace
}  // namespace parley
