// Generator (the CLI's facade over the engine) on tiny models: a follow-up turn resumes
// after the cached pages (computes only the rest) and gives the same tokens as computing
// everything from scratch; the engine's validation and stop strings reach the CLI;
// ScorePrompt (perplexity) matches the hand-driven forward pass bit for bit.
#include "generator.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "base/thread_pool.h"
#include "gguf/testing/tiny_model.h"
#include "model/sequence_kv.h"
#include "model/transformer.h"

namespace parley {
namespace {

struct Loaded {
  std::unique_ptr<Model> model;
  std::unique_ptr<Tokenizer> tokenizer;
};

Loaded LoadTiny(const std::string& arch, int32_t window) {
  testing::TinyModelSpec spec;
  spec.arch = arch;
  spec.window = window;
  spec.swa_period = 2;
  if (arch == "gemma3") spec.kv_heads = 1;
  std::string path = testing::TempModelPath("gen_" + arch);
  EXPECT_TRUE(testing::WriteTinyModel(spec, path).ok());
  Loaded l;
  auto m = Model::Load(path);
  EXPECT_TRUE(m.ok()) << m.status().message();
  l.model = std::move(m).value();
  auto t = Tokenizer::FromGguf(l.model->gguf());
  EXPECT_TRUE(t.ok()) << t.status().message();
  l.tokenizer = std::move(t).value();
  std::remove(path.c_str());
  return l;
}

constexpr int32_t kPageSize = 16;  // KvCacheOptions' default: the prefix cache's granularity

std::unique_ptr<Generator> Make(const Loaded& l, int32_t context, int32_t threads, int32_t batch_tokens) {
  GeneratorOptions o;
  o.context = context;
  o.threads = threads;
  o.batch_tokens = batch_tokens;
  auto g = Generator::Create(*l.model, *l.tokenizer, o);
  EXPECT_TRUE(g.ok()) << g.status().message();
  return g.ok() ? std::move(g).value() : nullptr;
}

std::vector<int32_t> Greedy(Generator& g, const std::vector<int32_t>& prompt, int n, GenerationStats* stats) {
  std::vector<int32_t> out;
  GenerationRequest req;
  req.prompt = prompt;
  req.max_tokens = n;
  req.ignore_eos = true;
  auto s = g.Generate(req, [&](const EngineEvent& ev) {
    out.insert(out.end(), ev.tokens.begin(), ev.tokens.end());
    return true;
  });
  EXPECT_TRUE(s.ok()) << s.status().message();
  if (s.ok()) *stats = *s;
  return out;
}

class GeneratorTest : public ::testing::TestWithParam<std::pair<const char*, int>> {};

TEST_P(GeneratorTest, SecondTurnComputesOnlyNewPagesAndMatchesFresh) {
  Loaded l = LoadTiny(GetParam().first, GetParam().second);
  auto cached = Make(l, 256, 2, 7);  // several prompt chunks, crossing the window
  std::string text = "the thin hen in the inn, then the end";
  std::vector<int32_t> turn1 = l.tokenizer->Encode(text + text + text, true, true);
  GenerationStats s1, s2, s3;
  std::vector<int32_t> reply = Greedy(*cached, turn1, 12, &s1);
  ASSERT_EQ(reply.size(), 12u);
  EXPECT_EQ(s1.computed_prompt, static_cast<int32_t>(turn1.size()));
  EXPECT_EQ(s1.generated, 12);

  // Turn 2 = turn 1 + its reply + a new message.
  std::vector<int32_t> turn2 = turn1;
  turn2.insert(turn2.end(), reply.begin(), reply.end());
  std::vector<int32_t> more = l.tokenizer->Encode(" and then the thin hen", false, true);
  turn2.insert(turn2.end(), more.begin(), more.end());
  std::vector<int32_t> a = Greedy(*cached, turn2, 10, &s2);
  // Cached: the full pages of turn 1 and its reply (the last reply token was never fed
  // back); computed: the rest of the last page, and the new message.
  EXPECT_GT(s2.prompt_tokens - s2.computed_prompt, 0);
  EXPECT_LE(s2.computed_prompt, static_cast<int32_t>(more.size()) + kPageSize);

  auto fresh = Make(l, 256, 1, 512);
  std::vector<int32_t> b = Greedy(*fresh, turn2, 10, &s3);
  EXPECT_EQ(s3.computed_prompt, static_cast<int32_t>(turn2.size()));
  EXPECT_EQ(a, b);
}

TEST_P(GeneratorTest, PromptLongerThanContextIsAnError) {
  Loaded l = LoadTiny(GetParam().first, GetParam().second);
  auto g = Make(l, 16, 1, 512);
  GenerationRequest req;
  req.prompt.assign(40, 5);
  req.max_tokens = 4;
  auto s = g->Generate(req, [](const EngineEvent&) { return true; });
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("context"), std::string::npos) << s.status().message();
}

TEST_P(GeneratorTest, StopStringsAndCancellingEndTheRequest) {
  Loaded l = LoadTiny(GetParam().first, GetParam().second);
  auto g = Make(l, 256, 1, 512);
  std::vector<int32_t> prompt = l.tokenizer->Encode("the thin hen", true, true);
  GenerationStats s;
  std::vector<int32_t> out = Greedy(*g, prompt, 24, &s);
  const std::string full = l.tokenizer->Decode(out);
  ASSERT_GE(full.size(), 4u);
  // Stop at the text of the output's second half: the reply ends before it.
  GenerationRequest req;
  req.prompt = prompt;
  req.max_tokens = 24;
  req.ignore_eos = true;
  req.stop = {full.substr(full.size() / 2, 3)};
  std::string text;
  auto r = g->Generate(req, [&](const EngineEvent& ev) {
    text += ev.text;
    return true;
  });
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->finish, FinishReason::kStop);
  EXPECT_EQ(text, full.substr(0, full.find(req.stop[0])));
  // Returning false cancels: no further event reaches the caller, and the request ends
  // (cancelled, or finished if the engine got there first: a tiny model is fast).
  req.stop.clear();
  req.max_tokens = 200;
  int events = 0;
  r = g->Generate(req, [&](const EngineEvent&) { return ++events < 1; });
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(events, 1);
  EXPECT_TRUE(r->finish == FinishReason::kCancelled || r->finish == FinishReason::kLength);
}

// ScorePrompt (perplexity's chunks) gives exactly what driving the forward pass by hand
// in -b chunks and summing log-softmax in double gives, token for token, including a chunk
// that starts before the first scored row; it needs the prefix cache off.
TEST_P(GeneratorTest, ScorePromptMatchesTheForwardPassBitForBit) {
  Loaded l = LoadTiny(GetParam().first, GetParam().second);
  const Model& model = *l.model;
  std::vector<int32_t> prompt;
  while (prompt.size() < 50) {
    std::vector<int32_t> more = l.tokenizer->Encode("the thin hen in the inn, then the end", true, true);
    prompt.insert(prompt.end(), more.begin(), more.end());
  }
  prompt.resize(50);
  const int32_t batch = 16, from = 21;  // rows 20..48 score tokens 21..49; chunk [16, 32) straddles

  ThreadPool pool(2);
  Transformer transformer(model.config(), model.weights(), &pool, ActivationMode::kF32);
  SequenceKv kv(model.config(), 50, KvDtype::kF32, "", batch);
  std::vector<double> want;
  std::vector<float> logits;
  const int32_t vocab = model.config().vocab_size;
  for (int32_t start = 0; start < 50; start += batch) {
    const int32_t n = std::min(batch, 50 - start);
    ASSERT_TRUE(transformer.Forward(std::span<const int32_t>(prompt.data() + start, n), &kv, LogitRows::kAll, &logits)
                    .ok());
    for (int32_t i = 0; i < n; ++i) {
      const int32_t pos = start + i;
      if (pos + 1 < from || pos + 1 >= 50) continue;
      const float* row = logits.data() + static_cast<size_t>(i) * vocab;
      const float mx = *std::max_element(row, row + vocab);
      double sum = 0.0;
      for (int32_t v = 0; v < vocab; ++v) sum += std::exp(static_cast<double>(row[v]) - mx);
      want.push_back(static_cast<double>(row[prompt[pos + 1]]) - mx - std::log(sum));
    }
  }

  GeneratorOptions o;
  o.context = 51;
  o.threads = 2;
  o.batch_tokens = batch;
  o.prefix_cache = false;
  auto g = Generator::Create(model, *l.tokenizer, o);
  ASSERT_TRUE(g.ok()) << g.status().message();
  for (int pass = 0; pass < 2; ++pass) {  // the second from an empty cache again
    StatusOr<std::vector<double>> got = (*g)->ScorePrompt(prompt, from);
    ASSERT_TRUE(got.ok()) << got.status().message();
    ASSERT_EQ(got->size(), want.size());
    for (size_t i = 0; i < want.size(); ++i) EXPECT_EQ((*got)[i], want[i]) << "token " << from + i;
  }
  EXPECT_EQ((*g)->ScorePrompt(prompt, 50).status().code(), StatusCode::kInvalidArgument);
  auto cached = Make(l, 64, 1, batch);
  EXPECT_EQ(cached->ScorePrompt(prompt, from).status().code(), StatusCode::kInvalidArgument);
}

INSTANTIATE_TEST_SUITE_P(Archs, GeneratorTest,
                         ::testing::Values(std::make_pair("llama", 0), std::make_pair("gemma3", 6)),
                         [](const auto& info) { return std::string(info.param.first); });

}  // namespace
}  // namespace parley
