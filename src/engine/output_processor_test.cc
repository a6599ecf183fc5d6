// OutputProcessor without a model or scheduler: logits rows are fed directly and a fake
// SequenceHost stands in for the scheduler and the engine's table of requests.
#include "engine/output_processor.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "engine/small_tokenizer.h"

namespace parley {
namespace {

using namespace std::chrono_literals;

constexpr int32_t kVocab = testing::kSmallVocab;

using testing::SmallTokenizer;

// A logits row whose argmax is `token`.
std::vector<float> Row(int32_t token) {
  std::vector<float> row(kVocab, 0.0f);
  row[token] = 10.0f;
  return row;
}

struct FakeHost : SequenceHost {
  void Release(Sequence* seq, bool cache_pages) override {
    seq->state = SeqState::kFinished;
    released[seq->id] = cache_pages;
  }
  bool Fork(Sequence* parent, Sequence* child) override {
    if (!fork_ok) return false;
    child->tokens = parent->tokens;
    child->num_computed = parent->num_computed;
    child->state = SeqState::kRunning;
    forked.push_back(child->id);
    return true;
  }
  void Enqueue(Sequence* seq) override { enqueued.push_back(seq->id); }
  void Adopt(std::unique_ptr<RequestState> r) override { adopted.push_back(std::move(r)); }

  bool fork_ok = true;
  std::map<int64_t, bool> released;
  std::vector<int64_t> forked, enqueued;
  std::vector<std::unique_ptr<RequestState>> adopted;
};

class OutputProcessorTest : public ::testing::Test {
 protected:
  OutputProcessorTest() : tok_(SmallTokenizer()), out_(*tok_, &stats_, &host_, OutputProcessorOptions{}) {}

  // A request as the engine admits it: prompt set, prompt not yet computed.
  std::unique_ptr<RequestState> Make(GenerationRequest r, int64_t id = 1) {
    auto a = std::make_unique<RequestState>(*tok_, std::move(r), std::make_shared<RequestStream>(id));
    a->max_new = a->req.max_tokens;
    a->seq.id = id;
    a->seq.tokens = a->req.prompt;
    a->seq.num_prompt = static_cast<int32_t>(a->req.prompt.size());
    a->seq.state = SeqState::kRunning;
    return a;
  }

  // Computes a's pending tokens (as Scheduler::Update would) and feeds one row per row given,
  // the last one at the last token's position.
  void Step(RequestState* a, const std::vector<std::vector<float>>& rows) {
    const int32_t first = a->seq.num_tokens() - static_cast<int32_t>(rows.size());
    a->seq.num_computed = a->seq.num_tokens();
    std::vector<float> flat;
    for (const auto& r : rows) flat.insert(flat.end(), r.begin(), r.end());
    out_.Process(a, first, flat, kVocab);
  }

  static std::vector<EngineEvent> Events(RequestState* a) {
    std::vector<EngineEvent> evs;
    while (auto ev = a->stream->Next(0ms)) evs.push_back(std::move(*ev));
    return evs;
  }

  EngineStatsRecorder stats_;
  std::unique_ptr<Tokenizer> tok_;
  FakeHost host_;
  OutputProcessor out_;
};

GenerationRequest Request(int32_t max_tokens) {
  GenerationRequest r;
  r.prompt = {3, 4, 5};
  r.max_tokens = max_tokens;
  return r;
}

TEST_F(OutputProcessorTest, GreedyUntilLength) {
  auto a = Make(Request(3));
  Step(a.get(), {Row(10)});
  Step(a.get(), {Row(11)});
  Step(a.get(), {Row(12)});
  const std::vector<EngineEvent> evs = Events(a.get());
  ASSERT_EQ(evs.size(), 3u);
  std::string text;
  for (const auto& ev : evs) text += ev.text;
  EXPECT_EQ(text, "789");
  EXPECT_EQ(evs[0].tokens, std::vector<int32_t>{10});
  EXPECT_EQ(evs.back().finish, FinishReason::kLength);
  EXPECT_EQ(evs.back().usage.prompt_tokens, 3);
  EXPECT_EQ(evs.back().usage.completion_tokens, 3);
  EXPECT_EQ(a->seq.tokens, (std::vector<int32_t>{3, 4, 5, 10, 11}));
  EXPECT_TRUE(host_.released.at(1));
  const EngineStats s = stats_.Snapshot();
  EXPECT_EQ(s.generation_tokens, 3);
  EXPECT_EQ(s.finished.at(FinishReason::kLength), 1);
  EXPECT_EQ(s.prompt_tokens, 3);
}

TEST_F(OutputProcessorTest, EndOfGenerationAndStopStrings) {
  auto a = Make(Request(10));
  Step(a.get(), {Row(10)});
  Step(a.get(), {Row(2)});  // </s>
  std::vector<EngineEvent> evs = Events(a.get());
  ASSERT_EQ(evs.size(), 2u);
  EXPECT_EQ(evs[1].finish, FinishReason::kStop);
  EXPECT_EQ(evs[0].text + evs[1].text, "7");

  GenerationRequest r = Request(10);
  r.stop = {"89"};
  auto b = Make(std::move(r), 2);
  for (int32_t t : {10, 11, 12, 13}) {
    if (b->seq.state == SeqState::kFinished) break;
    Step(b.get(), {Row(t)});
  }
  evs = Events(b.get());
  std::string text;
  for (const auto& ev : evs) text += ev.text;
  EXPECT_EQ(text, "7");
  EXPECT_EQ(evs.back().finish, FinishReason::kStop);
  EXPECT_EQ(evs.back().usage.completion_tokens, 3);
}

TEST_F(OutputProcessorTest, LogprobsAndPromptLogprobs) {
  GenerationRequest r = Request(1);
  r.prompt_logprobs = true;
  r.logprobs = 2;
  auto a = Make(std::move(r));
  // Prompt rows 0..2: row p predicts prompt token p + 1; the last row samples.
  Step(a.get(), {Row(4), Row(9), Row(20)});
  const std::vector<EngineEvent> evs = Events(a.get());
  ASSERT_EQ(evs.size(), 1u);
  ASSERT_EQ(evs[0].prompt_logprobs.size(), 2u);
  EXPECT_EQ(evs[0].prompt_logprobs[0].token, 4);
  EXPECT_EQ(evs[0].prompt_logprobs[1].token, 5);
  EXPECT_GT(evs[0].prompt_logprobs[0].logprob, evs[0].prompt_logprobs[1].logprob);
  ASSERT_EQ(evs[0].logprobs.size(), 1u);
  EXPECT_EQ(evs[0].logprobs[0].token, 20);
  EXPECT_EQ(evs[0].logprobs[0].top.size(), 2u);
  EXPECT_EQ(evs[0].finish, FinishReason::kLength);
}

TEST_F(OutputProcessorTest, PromptScoringOnly) {
  GenerationRequest r = Request(0);
  r.prompt_logprobs = true;
  auto a = Make(std::move(r));
  Step(a.get(), {Row(4), Row(5), Row(6)});
  const std::vector<EngineEvent> evs = Events(a.get());
  ASSERT_EQ(evs.size(), 1u);
  EXPECT_EQ(evs[0].finish, FinishReason::kLength);
  EXPECT_TRUE(evs[0].tokens.empty());
  EXPECT_EQ(evs[0].prompt_logprobs.size(), 2u);
  EXPECT_EQ(evs[0].usage.completion_tokens, 0);
}

// score_prompt_from: a double per prompt token from that index on, from the raw rows (no
// TokenLogprob entries), in the final event of a max_tokens == 0 request.
TEST_F(OutputProcessorTest, PromptScoresFromAnIndex) {
  GenerationRequest r = Request(0);
  r.prompt = {3, 4, 5, 6};
  r.score_prompt_from = 2;
  auto a = Make(std::move(r));
  // Rows 1..3 as the engine asks for them (row p predicts prompt token p + 1).
  a->seq.num_computed = a->seq.num_tokens();
  std::vector<float> flat;
  for (int32_t t : {5, 9, 7}) {
    const std::vector<float> row = Row(t);
    flat.insert(flat.end(), row.begin(), row.end());
  }
  out_.Process(a.get(), 1, flat, kVocab);
  const std::vector<EngineEvent> evs = Events(a.get());
  ASSERT_EQ(evs.size(), 1u);
  EXPECT_EQ(evs[0].finish, FinishReason::kLength);
  EXPECT_TRUE(evs[0].prompt_logprobs.empty());
  ASSERT_EQ(evs[0].prompt_scores.size(), 2u);  // tokens 2 and 3 (5 and 6)
  EXPECT_EQ(evs[0].prompt_scores[0], PromptTokenScore(Row(5), 5));
  EXPECT_EQ(evs[0].prompt_scores[1], PromptTokenScore(Row(9), 6));
  EXPECT_GT(evs[0].prompt_scores[0], evs[0].prompt_scores[1]);
}

// PromptTokenScore is log-softmax: exact on a uniform row, ComputeLogprob's value to
// float precision elsewhere, and in double.
TEST(PromptTokenScoreTest, IsLogSoftmaxInDouble) {
  const std::vector<float> uniform(8, 0.5f);
  EXPECT_DOUBLE_EQ(PromptTokenScore(uniform, 3), -std::log(8.0));
  const std::vector<float> row = {1.0f, -2.5f, 3.25f, 0.0f, 7.0f, -1.0f};
  double total = 0.0;
  for (int32_t t = 0; t < 6; ++t) {
    const double s = PromptTokenScore(row, t);
    EXPECT_NEAR(s, ComputeLogprob(row, t, 0).logprob, 1e-6);
    total += std::exp(s);
  }
  EXPECT_NEAR(total, 1.0, 1e-12);
  // A tail probability far below float's range stays finite (exp and log in double).
  const std::vector<float> far = {0.0f, -120.0f};
  EXPECT_DOUBLE_EQ(PromptTokenScore(far, 1), -120.0);
}

TEST_F(OutputProcessorTest, ForksSampleFromTheSameRow) {
  auto a = Make(Request(2), 1);
  a->forks.push_back(Make(Request(2), 2));
  a->forks.back()->choice = 1;
  a->forks.push_back(Make(Request(2), 3));
  a->forks.back()->choice = 2;
  a->seq.fork_seats = 2;
  host_.fork_ok = true;
  Step(a.get(), {Row(10)});
  EXPECT_EQ(a->seq.fork_seats, 0);
  EXPECT_EQ(host_.forked, (std::vector<int64_t>{2, 3}));
  ASSERT_EQ(host_.adopted.size(), 2u);
  for (auto& c : host_.adopted) {
    const std::vector<EngineEvent> evs = Events(c.get());
    ASSERT_EQ(evs.size(), 1u);
    EXPECT_EQ(evs[0].tokens, std::vector<int32_t>{10});  // greedy: the same first token
  }
  EXPECT_EQ(Events(a.get())[0].tokens, std::vector<int32_t>{10});
}

TEST_F(OutputProcessorTest, ForksWithoutRoomAreQueued) {
  auto a = Make(Request(2), 1);
  a->forks.push_back(Make(Request(2), 2));
  host_.fork_ok = false;
  Step(a.get(), {Row(10)});
  EXPECT_EQ(host_.enqueued, std::vector<int64_t>{2});
  ASSERT_EQ(host_.adopted.size(), 1u);
  EXPECT_TRUE(Events(host_.adopted[0].get()).empty());
}

TEST_F(OutputProcessorTest, ErrorEndsUnforkedChoices) {
  auto a = Make(Request(2), 1);
  a->forks.push_back(Make(Request(2), 2));
  RequestState* c = a->forks.back().get();
  std::shared_ptr<RequestStream> cs = c->stream;
  out_.Finish(a.get(), FinishReason::kError, EngineEvent{}, "boom");
  EXPECT_FALSE(host_.released.at(1));
  EXPECT_FALSE(host_.released.at(2));
  EXPECT_TRUE(host_.adopted.empty());
  auto ev = cs->Next(0ms);
  ASSERT_TRUE(ev.has_value());
  EXPECT_EQ(ev->finish, FinishReason::kError);
  EXPECT_EQ(ev->error, "boom");
  EXPECT_EQ(Events(a.get()).back().error, "boom");
}

TEST_F(OutputProcessorTest, CancelledChoiceZeroQueuesTheOthers) {
  auto a = Make(Request(2), 1);
  a->forks.push_back(Make(Request(2), 2));
  out_.Finish(a.get(), FinishReason::kCancelled, EngineEvent{});
  EXPECT_EQ(host_.enqueued, std::vector<int64_t>{2});
  EXPECT_EQ(host_.adopted.size(), 1u);
  EXPECT_EQ(Events(a.get()).back().finish, FinishReason::kCancelled);
}

}  // namespace
}  // namespace parley
