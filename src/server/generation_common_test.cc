// Drain(): events of several request streams consumed in order per stream, until every
// stream's final event; every stream cancelled when the client goes away or a write fails.
#include "server/generation_common.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

namespace parley {
namespace {

EngineEvent Text(const std::string& text, FinishReason finish = FinishReason::kNone) {
  EngineEvent e;
  e.text = text;
  e.finish = finish;
  return e;
}

std::vector<std::shared_ptr<RequestStream>> Streams(int n) {
  std::vector<std::shared_ptr<RequestStream>> out;
  for (int i = 0; i < n; ++i) out.push_back(std::make_shared<RequestStream>(i));
  return out;
}

TEST(DrainTest, ConsumesEveryStreamInOrderUntilFinal) {
  auto streams = Streams(3);
  std::thread producer([&] {
    for (int step = 0; step < 5; ++step) {
      for (int i = 0; i < 3; ++i) {
        const bool last = step == 4;
        streams[i]->Push(Text(std::to_string(step), last ? FinishReason::kLength : FinishReason::kNone));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  });
  std::vector<std::string> texts(3);
  std::vector<int> finals(3, 0);
  const bool done = Drain(streams, [] { return true; }, [&](size_t i, EngineEvent& ev) {
    texts[i] += ev.text;
    finals[i] += ev.finish != FinishReason::kNone;
    return true;
  });
  producer.join();
  EXPECT_TRUE(done);
  EXPECT_EQ(texts, std::vector<std::string>(3, "01234"));
  EXPECT_EQ(finals, std::vector<int>(3, 1));
  for (auto& s : streams) EXPECT_FALSE(s->cancelled());
}

TEST(DrainTest, ClientGoneCancelsEveryStream) {
  auto streams = Streams(2);
  streams[0]->Push(Text("a", FinishReason::kStop));  // one finished, one never will
  std::atomic<int> asked{0};
  const auto start = std::chrono::steady_clock::now();
  const bool done = Drain(
      streams, [&] { return ++asked < 3; }, [&](size_t, EngineEvent&) { return true; });
  EXPECT_FALSE(done);
  EXPECT_GE(asked.load(), 3);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  for (auto& s : streams) EXPECT_TRUE(s->cancelled());
}

TEST(DrainTest, FailedWriteCancels) {
  auto streams = Streams(1);
  streams[0]->Push(Text("a"));
  streams[0]->Push(Text("b"));
  int calls = 0;
  EXPECT_FALSE(Drain(streams, [] { return true; }, [&](size_t, EngineEvent&) {
    ++calls;
    return false;
  }));
  EXPECT_EQ(calls, 1);
  EXPECT_TRUE(streams[0]->cancelled());
}

TEST(DrainTest, ClientCheckedEvenWhileEventsKeepComing) {
  auto streams = Streams(1);
  std::atomic<bool> stop{false};
  std::thread producer([&] {
    while (!stop) {
      streams[0]->Push(Text("x"));
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  });
  const bool done = Drain(streams, [] { return false; }, [](size_t, EngineEvent&) { return true; });
  stop = true;
  producer.join();
  EXPECT_FALSE(done);
  EXPECT_TRUE(streams[0]->cancelled());
}

TEST(ResponseIdTest, PrefixedAndUnique) {
  const std::string a = NewResponseId("chatcmpl-"), b = NewResponseId("chatcmpl-");
  EXPECT_EQ(a.rfind("chatcmpl-", 0), 0u);
  EXPECT_EQ(a.size(), std::string("chatcmpl-").size() + 24);
  EXPECT_NE(a, b);
  EXPECT_NE(RandomSeed(), RandomSeed());
}

TEST(AddUsageTest, CountsEachPromptOnceAndEveryChoice) {
  Usage total;
  // Two prompts (10 and 4 tokens, 6 and 0 cached) with two choices each.
  AddUsage({10, 3, 6}, /*counts_prompt=*/true, &total);
  AddUsage({10, 5, 6}, /*counts_prompt=*/false, &total);
  AddUsage({4, 2, 0}, /*counts_prompt=*/true, &total);
  AddUsage({4, 7, 0}, /*counts_prompt=*/false, &total);
  EXPECT_EQ(total.prompt_tokens, 14);
  EXPECT_EQ(total.completion_tokens, 17);
  EXPECT_EQ(total.cached_tokens, 6);
  // Speculation's counts belong to each choice: summed over all of them.
  Usage total2;
  AddUsage({10, 3, 6, 8, 5, 12, 2}, /*counts_prompt=*/true, &total2);
  AddUsage({10, 5, 6, 4, 1, 3, 1}, /*counts_prompt=*/false, &total2);
  EXPECT_EQ(total2.draft_tokens, 12);
  EXPECT_EQ(total2.draft_accepted, 6);
  EXPECT_EQ(total2.prediction_accepted, 15);
  EXPECT_EQ(total2.prediction_rejected, 3);
}

}  // namespace
}  // namespace parley
