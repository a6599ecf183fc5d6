#include "loadgen/sse.h"

#include <gtest/gtest.h>

#include <vector>

namespace parley::loadgen {
namespace {

TEST(SseParserTest, EventsSurviveAnySplit) {
  const std::string stream =
      ": keep-alive\r\n\r\ndata: {\"a\":1}\n\ndata: {\"b\":\n" "data: 2}\r\n\r\nevent: x\nid: 3\ndata: [DONE]\n\n";
  const std::vector<std::string> want = {"{\"a\":1}", "{\"b\":\n2}", "[DONE]"};
  for (size_t piece = 1; piece <= stream.size(); ++piece) {
    std::vector<std::string> got;
    SseParser p([&](const std::string& d) { got.push_back(d); });
    for (size_t i = 0; i < stream.size(); i += piece) p.Feed(std::string_view(stream).substr(i, piece));
    p.Finish();
    EXPECT_EQ(got, want) << "piece " << piece;
  }
}

TEST(SseParserTest, AnUnterminatedLastEventIsDeliveredAtTheEnd) {
  std::vector<std::string> got;
  SseParser p([&](const std::string& d) { got.push_back(d); });
  p.Feed("data: one\n\ndata:two");
  EXPECT_EQ(got.size(), 1u);
  p.Finish();
  EXPECT_EQ(got, (std::vector<std::string>{"one", "two"}));
}

}  // namespace
}  // namespace parley::loadgen
