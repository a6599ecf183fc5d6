// Speculative decoding in the engine loop with the fake runner (whose output depends on every
// key its layers read, checked page row by page row): drafted tokens verified in the batch,
// rejected drafts rolled back across page and window edges, finishing inside a verify step
// (max_tokens, stop strings, stop tokens), preemption, n choices — always the tokens a plain
// decode gives, with the integrity check after every step.
#include <gtest/gtest.h>

#include "engine/engine.h"
#include "engine/fake_runner.h"
#include "engine/small_tokenizer.h"

namespace parley {
namespace {

using namespace std::chrono_literals;
using testing::FakeRunner;

// A bound that turns a hang into a failure, not a speed check: under TSan on a busy 2-core
// machine one event took over 5 s.
constexpr auto kEventTimeout = 60s;

struct Collected {
  std::vector<int32_t> tokens;
  std::string text;
  EngineEvent last;
};

Collected Drain(RequestStream* stream) {
  Collected c;
  for (int i = 0; i < 100000; ++i) {
    auto ev = stream->Next(kEventTimeout);
    if (!ev) {
      ADD_FAILURE() << "no event within " << kEventTimeout.count() << " s";
      break;
    }
    c.tokens.insert(c.tokens.end(), ev->tokens.begin(), ev->tokens.end());
    c.text += ev->text;
    if (ev->finish != FinishReason::kNone) {
      c.last = std::move(*ev);
      break;
    }
  }
  return c;
}

class SpecEngineTest : public ::testing::Test {
 protected:
  void Start(EngineOptions opts) {
    runner_ = std::make_unique<FakeRunner>(std::vector<int32_t>{4, 0}, std::vector<int32_t>{}, 64);
    tokenizer_ = testing::SmallTokenizer();
    opts.kv.page_size = 4;  // a window of 4 and pages of 4: a 9-row verify step crosses both
    opts.check_integrity = true;
    auto e = Engine::Create(runner_.get(), *tokenizer_, opts);
    ASSERT_TRUE(e.ok()) << e.status().message();
    engine_ = std::move(e).value();
  }
  static EngineOptions Spec(SpecMode mode, double price = 0) {
    EngineOptions o;
    o.spec = mode;
    o.spec_fixed_price = price;
    o.spec_max_draft = 8;
    return o;
  }
  static GenerationRequest Request(std::vector<int32_t> prompt, int32_t max_tokens, std::vector<int32_t> prediction = {}) {
    GenerationRequest r;
    r.prompt = std::move(prompt);
    r.max_tokens = max_tokens;
    r.ignore_eos = true;
    r.prediction = std::move(prediction);
    return r;
  }
  std::vector<int32_t> Reference(std::vector<int32_t> tokens, int32_t n) const {
    std::vector<int32_t> out;
    for (int i = 0; i < n; ++i) {
      out.push_back(runner_->ReferenceNext(tokens));
      tokens.push_back(out.back());
    }
    return out;
  }
  Collected Run(GenerationRequest r) {
    auto s = engine_->Submit(std::move(r));
    EXPECT_TRUE(s.ok()) << s.status().message();
    return s.ok() ? Drain(s->get()) : Collected{};
  }
  std::unique_ptr<FakeRunner> runner_;
  std::unique_ptr<Tokenizer> tokenizer_;
  std::unique_ptr<Engine> engine_;
};

std::vector<int32_t> Prompt(int32_t n, int32_t salt) {
  std::vector<int32_t> p;
  for (int32_t j = 0; j < n; ++j) p.push_back(3 + (salt * 13 + j * 7) % 61);
  return p;
}

TEST_F(SpecEngineTest, PredictionsRightWrongOrEditedGiveThePlainOutput) {
  EngineOptions opts = Spec(SpecMode::kPrediction);
  opts.max_batch_tokens = 32;
  opts.max_seqs = 6;
  Start(opts);
  // Every reference first, then the six requests back to back: a reference computed between
  // submissions (slow under the sanitizers) let the first requests run alone meanwhile.
  std::vector<std::vector<int32_t>> prompts, want, predictions;
  for (int i = 0; i < 6; ++i) {
    prompts.push_back(Prompt(5 + 3 * i, i));
    want.push_back(Reference(prompts.back(), 30));
    std::vector<int32_t> prediction = want.back();
    if (i % 3 == 1) {
      for (int j = 10; j < 13; ++j) prediction[j] = 3 + (prediction[j] + 5) % 61;  // an edit
    } else if (i % 3 == 2) {
      prediction = Prompt(30, 100 + i);  // unrelated
    }
    predictions.push_back(std::move(prediction));
  }
  std::vector<std::shared_ptr<RequestStream>> streams;
  for (int i = 0; i < 6; ++i) {
    auto s = engine_->Submit(Request(prompts[i], 30, predictions[i]));
    ASSERT_TRUE(s.ok());
    streams.push_back(*s);
  }
  for (int i = 0; i < 6; ++i) {
    Collected c = Drain(streams[i].get());
    EXPECT_EQ(c.tokens, want[i]) << i;
    EXPECT_EQ(c.last.finish, FinishReason::kLength);
    EXPECT_EQ(c.last.usage.completion_tokens, 30);
    const Usage& u = c.last.usage;
    EXPECT_EQ(u.draft_tokens, u.draft_accepted + u.prediction_rejected) << i;  // one source only
  }
  // How much each drafted depends on the batches it shared (32 tokens for six sequences: an
  // engine step that starts before the last submission, as on a sanitizer build, gives the
  // first ones other batches), so the counts are checked on each request alone.
  for (int i = 0; i < 6; ++i) {
    const Collected c = Run(Request(prompts[i], 30, predictions[i]));
    EXPECT_EQ(c.tokens, want[i]) << i;
    const Usage& u = c.last.usage;
    if (i % 3 == 0) {
      EXPECT_EQ(u.prediction_accepted, 30) << i;  // every token was the prediction's next
      EXPECT_EQ(u.prediction_rejected, 0) << i;
      EXPECT_GE(u.draft_accepted, 20) << i;       // all but one per verify step were drafted
    } else if (i % 3 == 1) {
      EXPECT_GE(u.prediction_accepted, 22) << i << ": realigned after the edit";
      EXPECT_GT(u.prediction_rejected, 0) << i;
    }
  }
  const EngineStats st = engine_->Stats();
  EXPECT_GT(st.spec.verifications, 0);
  EXPECT_GT(st.spec.accepted[static_cast<int>(DraftSource::kPrediction)], 0);
  EXPECT_GT(st.spec.verified_tokens, 2 * st.spec.verifications);  // well over one token a step
}

TEST_F(SpecEngineTest, HistoryAndPoolDraftsGiveThePlainOutput) {
  Start(Spec(SpecMode::kNgram));
  const std::vector<int32_t> prompt = Prompt(6, 3);
  const std::vector<int32_t> want = Reference(prompt, 60);
  Collected c = Run(Request(prompt, 60));
  EXPECT_EQ(c.tokens, want);
  EXPECT_EQ(c.last.usage.prediction_accepted, 0);
  // The pool learned the finished request: the same prompt again drafts what followed its
  // n-grams last time, and those drafts are right.
  Collected again = Run(Request(prompt, 60));
  EXPECT_EQ(again.tokens, want);
  EXPECT_GT(again.last.usage.draft_accepted, 20);
  const EngineStats st = engine_->Stats();
  EXPECT_GT(st.spec.accepted[static_cast<int>(DraftSource::kPool)], 0);
  // Another prompt: whatever is drafted, the output is the reference.
  const std::vector<int32_t> prompt2 = Prompt(9, 4);
  EXPECT_EQ(Run(Request(prompt2, 40)).tokens, Reference(prompt2, 40));
}

TEST_F(SpecEngineTest, FinishingInsideAVerifyStep) {
  Start(Spec(SpecMode::kPrediction));
  const std::vector<int32_t> prompt = Prompt(7, 5);
  const std::vector<int32_t> ref = Reference(prompt, 40);
  // max_tokens inside a run of accepted drafts: exactly max_tokens, and a longer prediction.
  Collected a = Run(Request(prompt, 11, ref));
  EXPECT_EQ(a.tokens, std::vector<int32_t>(ref.begin(), ref.begin() + 11));
  EXPECT_EQ(a.last.finish, FinishReason::kLength);
  // A stop string made of generated tokens 6..7 (cut from the text, as without drafts).
  const std::string full = tokenizer_->Decode(ref);
  const std::string stop = full.substr(6, 2);
  GenerationRequest r = Request(prompt, 40, ref);
  r.stop = {stop};
  Collected b = Run(r);
  EXPECT_EQ(b.last.finish, FinishReason::kStop);
  EXPECT_EQ(b.text, full.substr(0, full.find(stop)));
  // A stop token id.
  GenerationRequest r2 = Request(prompt, 40, ref);
  r2.stop_token_ids = {ref[9]};
  Collected c = Run(r2);
  const size_t first = std::find(ref.begin(), ref.end(), ref[9]) - ref.begin();
  EXPECT_EQ(c.tokens, std::vector<int32_t>(ref.begin(), ref.begin() + first + 1));
  EXPECT_EQ(c.last.finish, FinishReason::kStop);
}

TEST_F(SpecEngineTest, SurvivesPreemptionAndChoices) {
  EngineOptions opts = Spec(SpecMode::kNgram);
  opts.max_batch_tokens = 16;
  opts.max_context = 64;
  opts.kv.arena_bytes = 3000;  // ~1.5 sequences of 64 tokens: decodes with drafts preempt
  Start(opts);
  // The references first, then the three requests back to back, so that they run together
  // (a reference computed between two submissions let the first request finish alone on a
  // slow sanitizer build: no memory pressure, no preemption).
  std::vector<std::vector<int32_t>> prompts, want;
  for (int i = 0; i < 3; ++i) {
    prompts.push_back(Prompt(18 + i, 20 + i));
    want.push_back(Reference(prompts.back(), 40));
  }
  std::vector<std::shared_ptr<RequestStream>> streams;
  for (int i = 0; i < 3; ++i) {
    auto s = engine_->Submit(Request(prompts[i], 40, want[i]));
    ASSERT_TRUE(s.ok());
    streams.push_back(*s);
  }
  for (int i = 0; i < 3; ++i) EXPECT_EQ(Drain(streams[i].get()).tokens, want[i]) << i;
  EXPECT_GT(engine_->Stats().preemptions, 0);
  // n choices, sampled: each choice reproduces by seed, as without speculation.
  GenerationRequest r = Request(Prompt(10, 7), 20);
  r.n = 3;
  r.sampling.temperature = 1.0f;
  r.sampling.seed = 9;
  auto choices = engine_->SubmitChoices(r);
  ASSERT_TRUE(choices.ok());
  std::vector<Collected> got;
  for (auto& s : *choices) got.push_back(Drain(s.get()));
  engine_.reset();
  Start(EngineOptions{});  // no speculation
  auto plain = engine_->SubmitChoices(r);
  ASSERT_TRUE(plain.ok());
  for (size_t j = 0; j < got.size(); ++j) EXPECT_EQ(Drain((*plain)[j].get()).tokens, got[j].tokens) << j;
}

TEST_F(SpecEngineTest, ChoicesOfACachedPromptForkBeforeAnyDraft) {
  // A prompt cached up to its last token has a one-token first step: that step must fork the
  // other choices, not verify a draft (the soak once forked after a verify step and aborted).
  Start(Spec(SpecMode::kNgram));
  const std::vector<int32_t> prompt = Prompt(25, 9);  // pages of 4: cached up to token 24
  EXPECT_EQ(Run(Request(prompt, 8)).tokens, Reference(prompt, 8));
  GenerationRequest r = Request(prompt, 12);
  r.n = 3;
  auto choices = engine_->SubmitChoices(r);
  ASSERT_TRUE(choices.ok());
  for (auto& s : *choices) EXPECT_EQ(Drain(s.get()).tokens, Reference(prompt, 12));
}

TEST_F(SpecEngineTest, AnUntrainedOrComputeBoundPriceDraftsLessOrNothing) {
  // Price 1: no drafted token can be worth it.
  Start(Spec(SpecMode::kNgram, /*price=*/1.0));
  const std::vector<int32_t> prompt = Prompt(6, 3);
  Collected c = Run(Request(prompt, 40, Reference(prompt, 40)));
  EXPECT_EQ(c.tokens, Reference(prompt, 40));
  EXPECT_EQ(c.last.usage.draft_tokens, 0);
  EXPECT_EQ(engine_->Stats().spec.verifications, 0);
}

}  // namespace
}  // namespace parley
