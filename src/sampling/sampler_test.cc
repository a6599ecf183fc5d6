// Tests for Sampler, SamplingParams::Validate and ComputeLogprob on small hand-made logits:
// each parameter's effect, the penalties (by making the penalized token win or lose greedy
// selection), seeded determinism, and log-probabilities against the direct formula.
#include "sampling/sampler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>
#include <set>
#include <string>

namespace parley {
namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();

std::map<int32_t, int> Histogram(Sampler& s, const std::vector<float>& logits, int draws) {
  std::map<int32_t, int> seen;
  for (int i = 0; i < draws; ++i) seen[s.Sample(logits)]++;
  return seen;
}

// Greedy (temperature 0) with the given penalties after the given history.
int32_t GreedyAfter(SamplingParams p, const std::vector<float>& logits,
                    const std::vector<int32_t>& prompt, const std::vector<int32_t>& generated) {
  p.temperature = 0.0f;
  Sampler s(p);
  s.AcceptPrompt(prompt);
  for (int32_t t : generated) s.Accept(t);
  return s.Sample(logits);
}

TEST(SamplerTest, GreedyPicksArgMaxLowestIndexOnTies) {
  Sampler s(SamplingParams{});
  std::vector<float> logits = {0.1f, 3.0f, -1.0f, 3.0f};
  EXPECT_EQ(s.Sample(logits), 1);
  EXPECT_EQ(ArgMax(std::vector<float>{kNaN, 1.0f, 2.0f, 2.0f}), 2);
}

TEST(SamplerTest, SameSeedSameTokens) {
  std::vector<float> logits(100);
  for (int i = 0; i < 100; ++i) logits[i] = static_cast<float>((i * 37) % 11) * 0.3f;
  SamplingParams p{.temperature = 1.0f, .top_k = 0, .top_p = 1.0f, .seed = 42};
  Sampler a(p), b(p);
  std::vector<int32_t> ta, tb;
  for (int i = 0; i < 50; ++i) {
    ta.push_back(a.Sample(logits));
    tb.push_back(b.Sample(logits));
  }
  EXPECT_EQ(ta, tb);
  p.seed = 43;
  Sampler c(p);
  std::vector<int32_t> tc;
  for (int i = 0; i < 50; ++i) tc.push_back(c.Sample(logits));
  EXPECT_NE(ta, tc);
}

TEST(SamplerTest, DeterministicWithEveryTransformAndPenalty) {
  // A changing logits sequence, every transform on, tokens fed back as the engine does.
  SamplingParams p{.temperature = 0.8f, .top_k = 300, .top_p = 0.9f, .min_p = 0.05f,
                   .repetition_penalty = 1.2f, .presence_penalty = 0.3f,
                   .frequency_penalty = 0.2f, .seed = 7};
  auto run = [](const SamplingParams& params) {
    Sampler s(params);
    s.AcceptPrompt(std::vector<int32_t>{1, 2, 3, 500});
    std::vector<int32_t> out;
    for (int step = 0; step < 60; ++step) {
      std::vector<float> logits(2000);
      for (int i = 0; i < 2000; ++i) logits[i] = std::sin(0.37f * i + 0.11f * step) * 3.0f;
      out.push_back(s.Sample(logits));
      s.Accept(out.back());
    }
    return out;
  };
  EXPECT_EQ(run(p), run(p));
  SamplingParams q = p;
  q.seed = 8;
  EXPECT_NE(run(p), run(q));
  // The top-p-only path (lazy partial sort) and the plain path too.
  q = SamplingParams{.temperature = 1.0f, .top_p = 0.95f, .seed = 3};
  EXPECT_EQ(run(q), run(q));
  q = SamplingParams{.temperature = 1.0f, .seed = 3};
  EXPECT_EQ(run(q), run(q));
}

TEST(SamplerTest, TopKOneEqualsGreedy) {
  std::vector<float> logits(5000);
  for (int row = 0; row < 20; ++row) {
    for (int i = 0; i < 5000; ++i) logits[i] = std::cos(0.91f * i * (row + 1)) * 5.0f;
    if (row % 2 == 0) logits[4000] = logits[ArgMax(logits)];  // a tie: the lower id wins
    Sampler s(SamplingParams{.temperature = 2.0f, .top_k = 1, .seed = static_cast<uint64_t>(row)});
    EXPECT_EQ(s.Sample(logits), ArgMax(logits));
  }
}

TEST(SamplerTest, TopKRestrictsToKBest) {
  std::vector<float> logits = {5.0f, 4.0f, 3.0f, 2.0f, 1.0f};
  Sampler s(SamplingParams{.temperature = 10.0f, .top_k = 2, .top_p = 1.0f, .seed = 1});
  for (int i = 0; i < 500; ++i) EXPECT_LT(s.Sample(logits), 2);
}

TEST(SamplerTest, TopKOnLargeVocabBothSelectionPaths) {
  // k = 10 uses the heap, k = 500 nth_element; ties go to the lower ids either way.
  std::vector<float> logits(1000, 0.0f);
  for (int i = 0; i < 1000; ++i) logits[i] = static_cast<float>((i * 7919) % 1000) / 100.0f;
  for (int k : {10, 500}) {
    std::vector<int32_t> ids(1000);
    std::iota(ids.begin(), ids.end(), 0);
    std::sort(ids.begin(), ids.end(), [&](int a, int b) { return logits[a] > logits[b]; });
    std::set<int32_t> best(ids.begin(), ids.begin() + k);
    Sampler s(SamplingParams{.temperature = 50.0f, .top_k = k, .seed = 5});
    auto seen = Histogram(s, logits, 3000);
    for (const auto& [id, count] : seen) EXPECT_TRUE(best.contains(id)) << "k=" << k << " id=" << id;
    EXPECT_GT(seen.size(), static_cast<size_t>(k) / 2);
  }
  std::vector<float> flat(1000, 1.0f);
  Sampler s(SamplingParams{.temperature = 1.0f, .top_k = 3, .seed = 2});
  auto seen = Histogram(s, flat, 600);
  EXPECT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen.rbegin()->first, 2);
}

TEST(SamplerTest, TopPKeepsSmallestNucleus) {
  // probs ~ 0.665, 0.245, 0.09: top_p 0.7 keeps the first two.
  std::vector<float> logits = {2.0f, 1.0f, 0.0f};
  Sampler s(SamplingParams{.temperature = 1.0f, .top_k = 0, .top_p = 0.7f, .seed = 3});
  std::map<int, int> seen;
  for (int i = 0; i < 2000; ++i) seen[s.Sample(logits)]++;
  EXPECT_EQ(seen.count(2), 0u);
  EXPECT_GT(seen[1], 400);
}

TEST(SamplerTest, TopPOnLargeVocabGrowsTheSortedPrefix) {
  // A gentle slope: the 0.5 nucleus spans hundreds of tokens, past the first sorted chunk.
  const int n = 5000;
  std::vector<float> logits(n);
  for (int i = 0; i < n; ++i) logits[(i * 37) % n] = -0.001f * i;  // rank i at id (37 i) % n
  double total = 0.0;
  for (int i = 0; i < n; ++i) total += std::exp(-0.001 * i);
  int nucleus = 0;
  for (double cum = 0.0; cum < 0.5 * total; ++nucleus) cum += std::exp(-0.001 * nucleus);
  ASSERT_GT(nucleus, 200);
  std::set<int32_t> allowed;  // one rank of slack for float rounding at the edge
  for (int i = 0; i <= nucleus; ++i) allowed.insert((i * 37) % n);
  Sampler s(SamplingParams{.temperature = 1.0f, .top_p = 0.5f, .seed = 11});
  auto seen = Histogram(s, logits, 4000);
  for (const auto& [id, count] : seen) EXPECT_TRUE(allowed.contains(id)) << id;
  EXPECT_GT(seen.size(), static_cast<size_t>(nucleus) / 2);
}

TEST(SamplerTest, MinPRemovesExactlyTheTokensUnderTheThreshold) {
  // Relative probabilities 1, 0.5, 0.21, 0.19, 0.05 with min_p 0.2: ids 3 and 4 go.
  std::vector<float> logits = {0.0f, std::log(0.5f), std::log(0.21f), std::log(0.19f), std::log(0.05f)};
  Sampler s(SamplingParams{.temperature = 1.0f, .min_p = 0.2f, .seed = 4});
  auto seen = Histogram(s, logits, 6000);
  EXPECT_EQ(seen.count(3), 0u);
  EXPECT_EQ(seen.count(4), 0u);
  // The survivors keep their relative odds: 1 : 0.5 : 0.21.
  EXPECT_NEAR(seen[0] / 6000.0, 1.0 / 1.71, 0.03);
  EXPECT_NEAR(seen[2] / 6000.0, 0.21 / 1.71, 0.02);
  // After temperature 2 the ratios are square roots (1, .71, .46, .44, .22): 0.45 keeps 3.
  Sampler hot(SamplingParams{.temperature = 2.0f, .min_p = 0.45f, .seed = 4});
  seen = Histogram(hot, logits, 3000);
  EXPECT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen.count(3), 0u);
  // min_p 1 keeps only the most likely token; with top_k it is relative to the survivors.
  Sampler one(SamplingParams{.temperature = 1.0f, .min_p = 1.0f, .seed = 4});
  for (int i = 0; i < 100; ++i) EXPECT_EQ(one.Sample(logits), 0);
  Sampler mixed(SamplingParams{.temperature = 1.0f, .top_k = 3, .top_p = 0.99f, .min_p = 0.3f, .seed = 4});
  seen = Histogram(mixed, logits, 2000);
  EXPECT_EQ(seen.size(), 2u);
}

TEST(SamplerTest, FrequenciesFollowSoftmax) {
  std::vector<float> logits = {0.0f, std::log(3.0f)};  // p = 0.25, 0.75
  Sampler s(SamplingParams{.temperature = 1.0f, .top_k = 0, .top_p = 1.0f, .seed = 9});
  int ones = 0;
  for (int i = 0; i < 8000; ++i) ones += s.Sample(logits);
  EXPECT_NEAR(ones / 8000.0, 0.75, 0.03);
}

TEST(SamplerTest, NeverPicksInfiniteNegativeOrNaNLogits) {
  std::vector<float> logits = {-kInf, 0.0f, kNaN, 0.5f, -kInf};
  Sampler s(SamplingParams{.temperature = 1.0f, .seed = 6});
  auto seen = Histogram(s, logits, 1000);
  EXPECT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen.count(2), 0u);
  Sampler p(SamplingParams{.temperature = 1.0f, .top_p = 0.999f, .seed = 6});
  seen = Histogram(p, logits, 500);
  EXPECT_EQ(seen.size(), 2u);
}

TEST(SamplerTest, RepetitionPenaltyDividesPositiveAndMultipliesNegativeLogits) {
  SamplingParams p{.repetition_penalty = 1.1f};
  // 2.0 / 1.1 = 1.818 < 1.9: a prompt token loses; 2.0 / 1.1 > 1.8 still wins.
  EXPECT_EQ(GreedyAfter(p, {2.0f, 1.9f}, {0}, {}), 1);
  EXPECT_EQ(GreedyAfter(p, {2.0f, 1.8f}, {0}, {}), 0);
  EXPECT_EQ(GreedyAfter(p, {2.0f, 1.9f}, {}, {0}), 1);  // generated tokens count too
  EXPECT_EQ(GreedyAfter(p, {2.0f, 1.9f}, {1}, {}), 0);  // only seen tokens move
  // -1.0 * 1.1 = -1.1 < -1.05 < -1.0.
  EXPECT_EQ(GreedyAfter(p, {-1.0f, -1.05f}, {}, {0}), 1);
  EXPECT_EQ(GreedyAfter(p, {-1.0f, -1.15f}, {}, {0}), 0);
  // Applied once per token, however often it appeared (twice would give 1.65 < 1.7).
  EXPECT_EQ(GreedyAfter(p, {2.0f, 1.7f}, {0, 0}, {0, 0, 0}), 0);
  // A penalty under 1 favors seen tokens: 1.0 / 0.5 = 2.0 > 1.5.
  EXPECT_EQ(GreedyAfter(SamplingParams{.repetition_penalty = 0.5f}, {1.0f, 1.5f}, {0}, {}), 0);
  // Ids outside the vocabulary are ignored.
  EXPECT_EQ(GreedyAfter(p, {2.0f, 1.9f}, {-3, 99}, {77}), 0);
}

TEST(SamplerTest, PresencePenaltySubtractsOncePerGeneratedToken) {
  // 1.0 - 0.3 = 0.7 > 0.6 however many times token 0 appeared (3 x 0.3 would lose).
  EXPECT_EQ(GreedyAfter(SamplingParams{.presence_penalty = 0.3f}, {1.0f, 0.6f}, {}, {0, 0, 0}), 0);
  EXPECT_EQ(GreedyAfter(SamplingParams{.presence_penalty = 0.5f}, {1.0f, 0.6f}, {}, {0}), 1);
  // Prompt tokens do not count.
  EXPECT_EQ(GreedyAfter(SamplingParams{.presence_penalty = 2.0f}, {1.0f, 0.6f}, {0}, {}), 0);
  // A negative penalty favors them: 0.6 + 0.5 > 1.0.
  EXPECT_EQ(GreedyAfter(SamplingParams{.presence_penalty = -0.5f}, {1.0f, 0.6f}, {}, {1}), 1);
}

TEST(SamplerTest, FrequencyPenaltyScalesWithTheCount) {
  SamplingParams p{.frequency_penalty = 0.15f};
  EXPECT_EQ(GreedyAfter(p, {1.0f, 0.6f}, {}, {0, 0}), 0);     // 1.0 - 0.30 = 0.70
  EXPECT_EQ(GreedyAfter(p, {1.0f, 0.6f}, {}, {0, 0, 0}), 1);  // 1.0 - 0.45 = 0.55
  EXPECT_EQ(GreedyAfter(p, {1.0f, 0.6f}, {0, 0, 0}, {}), 0);  // prompt tokens do not count
  // All three together: (2.0 / 1.25) - 0.1 - 2 * 0.1 = 1.3, just under 1.35, just over 1.25.
  SamplingParams all{.repetition_penalty = 1.25f, .presence_penalty = 0.1f, .frequency_penalty = 0.1f};
  EXPECT_EQ(GreedyAfter(all, {2.0f, 1.35f}, {}, {0, 0}), 1);
  EXPECT_EQ(GreedyAfter(all, {2.0f, 1.25f}, {}, {0, 0}), 0);
}

TEST(SamplerTest, PenaltiesApplyBeforeSampling) {
  std::vector<float> logits = {0.0f, 0.0f};
  Sampler s(SamplingParams{.temperature = 1.0f, .frequency_penalty = 2.0f, .seed = 8});
  for (int i = 0; i < 5; ++i) s.Accept(0);  // token 0 now at -10: p ~ 4.5e-5
  auto seen = Histogram(s, logits, 2000);
  EXPECT_LE(seen[0], 2);
}

// logit_bias adds to the logit before anything else: +100 forces a token, -100 bans it,
// under greedy and under sampling, and moderate values shift the odds by exp(bias).
TEST(SamplerTest, LogitBiasForcesBansAndShifts) {
  std::vector<float> logits(300);
  for (int i = 0; i < 300; ++i) logits[i] = std::sin(0.7f * i) * 4.0f;
  const int32_t top = ArgMax(logits);
  ASSERT_NE(top, 17);
  SamplingParams greedy;
  greedy.logit_bias = {{17, 100.0f}};
  EXPECT_EQ(Sampler(greedy).Sample(logits), 17);
  greedy.logit_bias = {{top, -100.0f}};
  const int32_t second = Sampler(greedy).Sample(logits);
  EXPECT_NE(second, top);
  std::vector<float> without_top = logits;
  without_top[top] = -kInf;
  EXPECT_EQ(second, ArgMax(without_top));
  // Ids outside the row are skipped (the engine refuses them at submit).
  greedy.logit_bias = {{300, 100.0f}, {5000, 100.0f}};
  EXPECT_EQ(Sampler(greedy).Sample(logits), top);

  // Sampling at a high temperature: +100 on one token still takes every draw, -100 on the
  // favourite leaves it out of every draw.
  SamplingParams hot{.temperature = 1.5f, .seed = 11};
  hot.logit_bias = {{17, 100.0f}};
  Sampler forced(hot);
  EXPECT_EQ(Histogram(forced, logits, 300), (std::map<int32_t, int>{{17, 300}}));
  std::vector<float> two = {3.0f, 3.0f};
  hot.logit_bias = {{0, -100.0f}};
  Sampler banned(hot);
  EXPECT_EQ(Histogram(banned, two, 500), (std::map<int32_t, int>{{1, 500}}));
  // bias ln(3) on token 1 of two equal logits: p(1) = 3/4 at temperature 1.
  SamplingParams mild{.temperature = 1.0f, .seed = 4};
  mild.logit_bias = {{1, std::log(3.0f)}};
  Sampler shifted(mild);
  auto seen = Histogram(shifted, two, 4000);
  EXPECT_NEAR(seen[1] / 4000.0, 0.75, 0.03);
}

// The bias comes before the penalties: a penalized, biased token loses both.
TEST(SamplerTest, LogitBiasThenPenalties) {
  std::vector<float> logits = {0.0f, 1.0f, 0.5f};
  SamplingParams p{.frequency_penalty = 2.0f};
  p.logit_bias = {{0, 1.5f}};  // token 0 at 1.5: the favourite
  Sampler s(p);
  EXPECT_EQ(s.Sample(logits), 0);
  s.Accept(0);  // 1.5 - 2 = -0.5: token 1 wins now
  EXPECT_EQ(s.Sample(logits), 1);
}

// Logprobs see the biased distribution; without a bias they are ComputeLogprob's.
TEST(SamplerTest, LogprobAfterTheBias) {
  std::vector<float> logits = {2.0f, 1.0f, 0.0f, -1.0f};
  Sampler plain(SamplingParams{});
  const TokenLogprob raw = ComputeLogprob(logits, 0, 3);
  const TokenLogprob same = plain.Logprob(logits, 0, 3);
  EXPECT_EQ(same.logprob, raw.logprob);
  EXPECT_EQ(same.top, raw.top);

  SamplingParams p;
  p.logit_bias = {{3, 100.0f}, {0, -100.0f}};
  Sampler biased(p);
  const TokenLogprob forced = biased.Logprob(logits, 3, 4);
  EXPECT_NEAR(forced.logprob, 0.0f, 1e-6f);
  ASSERT_EQ(forced.top.size(), 4u);
  EXPECT_EQ(forced.top[0].first, 3);
  EXPECT_EQ(forced.top[3].first, 0);  // banned: last
  EXPECT_LT(forced.top[3].second, -100.0f);
  // The biased logits, through the direct formula.
  std::vector<float> shifted = {-98.0f, 1.0f, 0.0f, 99.0f};
  EXPECT_NEAR(biased.Logprob(logits, 1, 0).logprob, ComputeLogprob(shifted, 1, 0).logprob, 1e-5f);
}

TEST(SamplerTest, ValidateRejectsBadParams) {
  EXPECT_FALSE((SamplingParams{.temperature = -1.0f}).Validate().ok());
  EXPECT_FALSE((SamplingParams{.top_k = -2}).Validate().ok());
  EXPECT_FALSE((SamplingParams{.top_p = 0.0f}).Validate().ok());
  EXPECT_FALSE((SamplingParams{.top_p = 1.5f}).Validate().ok());
  EXPECT_TRUE(SamplingParams{}.Validate().ok());
}

TEST(SamplerTest, ValidateNamesTheParameterAndRange) {
  struct Case {
    SamplingParams params;
    std::string message;
  };
  const std::vector<Case> cases = {
      {{.temperature = -0.5f}, "temperature must be a finite number >= 0, got -0.5"},
      {{.temperature = kInf}, "temperature must be a finite number >= 0, got inf"},
      {{.temperature = kNaN}, "temperature must be a finite number >= 0, got nan"},
      {{.top_k = -1}, "top_k must be >= 0, got -1"},
      {{.top_p = 1.5f}, "top_p must be in (0, 1], got 1.5"},
      {{.top_p = 0.0f}, "top_p must be in (0, 1], got 0"},
      {{.top_p = kNaN}, "top_p must be in (0, 1], got nan"},
      {{.min_p = -0.25f}, "min_p must be in [0, 1], got -0.25"},
      {{.min_p = 1.5f}, "min_p must be in [0, 1], got 1.5"},
      {{.min_p = kNaN}, "min_p must be in [0, 1], got nan"},
      {{.repetition_penalty = 0.0f}, "repetition_penalty must be a finite number > 0, got 0"},
      {{.repetition_penalty = -1.0f}, "repetition_penalty must be a finite number > 0, got -1"},
      {{.repetition_penalty = kInf}, "repetition_penalty must be a finite number > 0, got inf"},
      {{.repetition_penalty = kNaN}, "repetition_penalty must be a finite number > 0, got nan"},
      {{.presence_penalty = 2.5f}, "presence_penalty must be in [-2, 2], got 2.5"},
      {{.presence_penalty = -2.5f}, "presence_penalty must be in [-2, 2], got -2.5"},
      {{.presence_penalty = kNaN}, "presence_penalty must be in [-2, 2], got nan"},
      {{.frequency_penalty = 3.0f}, "frequency_penalty must be in [-2, 2], got 3"},
      {{.frequency_penalty = -kInf}, "frequency_penalty must be in [-2, 2], got -inf"},
      {{.frequency_penalty = kNaN}, "frequency_penalty must be in [-2, 2], got nan"},
  };
  for (const Case& c : cases) {
    Status st = c.params.Validate();
    EXPECT_FALSE(st.ok()) << c.message;
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << c.message;
    // NaN may print with a sign; compare up to the value's text.
    EXPECT_EQ(st.message().substr(0, st.message().rfind("got ")), c.message.substr(0, c.message.rfind("got ")));
    if (c.message.find("nan") == std::string::npos) {
      EXPECT_EQ(st.message(), c.message);
    }
  }
  // The edges of each range are allowed.
  const std::vector<SamplingParams> good = {
      {.temperature = 0.0f},        {.temperature = 100.0f},       {.top_k = 0},
      {.top_k = 1 << 30},           {.top_p = 1.0f},               {.top_p = 1e-6f},
      {.min_p = 0.0f},              {.min_p = 1.0f},               {.repetition_penalty = 1e-3f},
      {.repetition_penalty = 10.f}, {.presence_penalty = -2.0f},   {.presence_penalty = 2.0f},
      {.frequency_penalty = -2.0f}, {.frequency_penalty = 2.0f},
  };
  for (const SamplingParams& p : good) EXPECT_TRUE(p.Validate().ok()) << p.Validate().message();
}

TEST(SamplerTest, ValidateLogitBias) {
  SamplingParams p;
  p.logit_bias = {{0, -100.0f}, {7, 100.0f}, {9, 0.5f}};
  EXPECT_TRUE(p.Validate().ok());
  p.logit_bias = {{3, 100.5f}};
  EXPECT_EQ(p.Validate().message(), "logit_bias values must be in [-100, 100], got 100.5");
  p.logit_bias = {{3, kNaN}};
  EXPECT_FALSE(p.Validate().ok());
  p.logit_bias = {{-1, 1.0f}};
  EXPECT_EQ(p.Validate().message(), "logit_bias has a negative token id");
  p.logit_bias.assign(SamplingParams::kMaxLogitBias, {1, 1.0f});
  EXPECT_TRUE(p.Validate().ok());
  p.logit_bias.push_back({2, 1.0f});
  EXPECT_EQ(p.Validate().message(), "logit_bias has 1025 entries; at most 1024");
}

TEST(SamplerTest, HasPenalties) {
  EXPECT_FALSE(SamplingParams{}.has_penalties());
  EXPECT_TRUE((SamplingParams{.repetition_penalty = 1.1f}).has_penalties());
  EXPECT_TRUE((SamplingParams{.presence_penalty = 0.1f}).has_penalties());
  EXPECT_TRUE((SamplingParams{.frequency_penalty = -0.1f}).has_penalties());
}

TEST(LogprobTest, MatchesTheDirectFormula) {
  std::vector<float> logits = {1.5f, -0.5f, 3.0f, 0.25f, 3.0f, -2.0f};
  double z = 0.0;
  for (float l : logits) z += std::exp(static_cast<double>(l));
  for (int32_t t = 0; t < 6; ++t) {
    TokenLogprob lp = ComputeLogprob(logits, t, 6);
    EXPECT_EQ(lp.token, t);
    EXPECT_NEAR(lp.logprob, std::log(std::exp(static_cast<double>(logits[t])) / z), 1e-6);
    ASSERT_EQ(lp.top.size(), 6u);
    double total = 0.0;
    for (const auto& [id, logprob] : lp.top) {
      total += std::exp(static_cast<double>(logprob));
      EXPECT_NEAR(logprob, std::log(std::exp(static_cast<double>(logits[id])) / z), 1e-6);
    }
    EXPECT_NEAR(total, 1.0, 1e-6);
  }
  // Best first, ties by the lower id: 2, 4 (both 3.0), 0, 3, 1, 5.
  TokenLogprob lp = ComputeLogprob(logits, 5, 6);
  std::vector<int32_t> order;
  for (const auto& [id, logprob] : lp.top) order.push_back(id);
  EXPECT_EQ(order, (std::vector<int32_t>{2, 4, 0, 3, 1, 5}));
  EXPECT_EQ(lp.top[0].second, lp.top[1].second);
}

TEST(LogprobTest, TopNIsClampedAndTheChosenTokenAlwaysReported) {
  std::vector<float> logits(100);
  for (int i = 0; i < 100; ++i) logits[i] = static_cast<float>((i * 13) % 100) * 0.1f;
  TokenLogprob lp = ComputeLogprob(logits, 0, 3);  // token 0 has the lowest logit
  ASSERT_EQ(lp.top.size(), 3u);
  EXPECT_EQ(lp.top[0].first, ArgMax(logits));
  for (const auto& [id, logprob] : lp.top) EXPECT_NE(id, 0);
  EXPECT_LT(lp.logprob, lp.top[2].second);
  EXPECT_TRUE(ComputeLogprob(logits, 0, 0).top.empty());
  EXPECT_TRUE(ComputeLogprob(logits, 0, -5).top.empty());
  EXPECT_EQ(ComputeLogprob(logits, 0, 50).top.size(), 20u);
  EXPECT_EQ(ComputeLogprob(std::vector<float>{1.0f, 2.0f}, 1, 20).top.size(), 2u);
  // Sorted best first along the whole list.
  lp = ComputeLogprob(logits, 7, 20);
  for (size_t i = 1; i < lp.top.size(); ++i) EXPECT_GE(lp.top[i - 1].second, lp.top[i].second);
}

TEST(LogprobTest, StableForLargeLogits) {
  std::vector<float> logits = {1000.0f, 999.0f, -1000.0f};
  TokenLogprob lp = ComputeLogprob(logits, 1, 2);
  EXPECT_NEAR(lp.logprob, -1.0 - std::log1p(std::exp(-1.0)), 1e-6);
  EXPECT_NEAR(lp.top[0].second, -std::log1p(std::exp(-1.0)), 1e-6);
  EXPECT_TRUE(std::isfinite(ComputeLogprob(logits, 2, 0).logprob));
}

}  // namespace
}  // namespace parley
