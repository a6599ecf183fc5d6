#include "loadgen/report.h"

#include <gtest/gtest.h>

#include <sstream>

#include "loadgen/plots.h"

namespace parley::loadgen {
namespace {

TEST(ReportTest, PercentilesInterpolateBetweenRanks) {
  std::vector<double> v = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
  EXPECT_DOUBLE_EQ(Percentile(v, 0), 1);
  EXPECT_DOUBLE_EQ(Percentile(v, 50), 5.5);
  EXPECT_DOUBLE_EQ(Percentile(v, 90), 9.1);
  EXPECT_DOUBLE_EQ(Percentile(v, 99), 9.91);
  EXPECT_DOUBLE_EQ(Percentile(v, 100), 10);
  EXPECT_DOUBLE_EQ(Percentile({}, 50), 0);
  EXPECT_DOUBLE_EQ(Percentile({3}, 99), 3);
  Stats s = Summarize({10, 1, 7, 4});
  EXPECT_EQ(s.count, 4);
  EXPECT_DOUBLE_EQ(s.mean, 5.5);
  EXPECT_DOUBLE_EQ(s.p50, 5.5);
  EXPECT_DOUBLE_EQ(s.max, 10);
}

RequestRecord Ok(int conv, int turn, double start, double ttft, int tokens, double gap, int prompt, int cached) {
  RequestRecord rec;
  rec.conversation = conv;
  rec.turn = turn;
  rec.start_s = start;
  TurnResult& r = rec.result;
  r.ok = true;
  r.http_status = 200;
  r.ttft_s = ttft;
  for (int i = 0; i < tokens; ++i) r.token_times_s.push_back(ttft + gap * i);
  r.e2e_s = ttft + gap * (tokens - 1);
  r.completion_tokens = tokens;
  r.prompt_tokens = prompt;
  r.cached_tokens = cached;
  return rec;
}

RequestRecord Failed(int turn, const std::string& kind) {
  RequestRecord rec;
  rec.turn = turn;
  rec.result.error_kind = kind;
  rec.result.token_times_s = {0.1, 0.2};  // produced before the failure: counted in the timeline only
  return rec;
}

RunResult Synthetic() {
  RunResult run;
  run.duration_s = 10;
  run.turns_planned = 8;
  // Two conversations, three turns; TTFT grows with the turn as history would be recomputed.
  run.records = {Ok(0, 0, 0.0, 0.1, 11, 0.02, 100, 0),  Ok(1, 0, 1.2, 0.3, 11, 0.02, 120, 0),
                 Ok(0, 1, 2.0, 0.2, 6, 0.04, 300, 100), Ok(1, 1, 2.5, 0.4, 6, 0.04, 320, 120),
                 Ok(0, 2, 4.0, 0.5, 2, 0.10, 500, 300), Failed(2, "http_503"), Failed(1, "stream_dropped")};
  return run;
}

TEST(ReportTest, AnalyzesSyntheticTimings) {
  Report r = Analyze(Synthetic(), "x", "http://127.0.0.1:1", "m");
  EXPECT_EQ(r.requests, 7);
  EXPECT_EQ(r.ok, 5);
  EXPECT_EQ(r.failed, 2);
  EXPECT_EQ(r.not_sent, 1);
  EXPECT_EQ(r.errors.at("http_503"), 1);
  EXPECT_EQ(r.errors.at("stream_dropped"), 1);
  EXPECT_EQ(r.ttft_s.count, 5);
  EXPECT_DOUBLE_EQ(r.ttft_s.p50, 0.3);
  EXPECT_DOUBLE_EQ(r.ttft_s.max, 0.5);
  // TPOT = (e2e - ttft) / (tokens - 1): 0.02, 0.02, 0.04, 0.04, 0.10.
  EXPECT_NEAR(r.tpot_s.p50, 0.04, 1e-12);
  EXPECT_NEAR(r.tpot_s.mean, 0.044, 1e-12);
  // Inter-token gaps: 10 + 10 of 0.02, 5 + 5 of 0.04, 1 of 0.10.
  EXPECT_EQ(r.itl_s.count, 31);
  EXPECT_NEAR(r.itl_s.p50, 0.02, 1e-12);
  EXPECT_NEAR(r.itl_s.max, 0.10, 1e-12);
  EXPECT_EQ(r.completion_tokens, 36);
  EXPECT_DOUBLE_EQ(r.output_tokens_per_s, 3.6);
  EXPECT_DOUBLE_EQ(r.requests_per_s, 0.5);
  EXPECT_EQ(r.prompt_tokens, 1340);
  EXPECT_EQ(r.cached_tokens, 520);
  EXPECT_NEAR(r.cached_share, 520.0 / 1340.0, 1e-12);
  ASSERT_EQ(r.by_turn.size(), 3u);
  EXPECT_DOUBLE_EQ(r.by_turn[0].ttft_s.p50, 0.2);
  EXPECT_DOUBLE_EQ(r.by_turn[1].ttft_s.p50, 0.3);
  EXPECT_EQ(r.by_turn[2].ttft_s.count, 1);
  EXPECT_DOUBLE_EQ(r.by_turn[2].ttft_s.p50, 0.5);
  EXPECT_DOUBLE_EQ(r.by_turn[1].mean_prompt_tokens, 310);
  EXPECT_NEAR(r.by_turn[1].cached_share, 220.0 / 620.0, 1e-12);
  EXPECT_DOUBLE_EQ(r.by_turn[0].cached_share, 0);
  // Timeline: 1 s bins; every chunk lands in the bin of start + its time.
  ASSERT_EQ(r.output_timeline.size(), 10u);
  double total = 0;
  for (double v : r.output_timeline) total += v * r.bin_s;
  EXPECT_DOUBLE_EQ(total, 36 + 2 * 2);
  EXPECT_DOUBLE_EQ(r.output_timeline[0], 11 + 2 + 2);  // conversation 0 turn 0 (0.1..0.3 s) + both failures at 0.1, 0.2
}

TEST(ReportTest, RequestLinesCarryEachRequestInStartOrder) {
  RunResult run = Synthetic();
  run.records[4].result.replica = "r1";  // conversation 0, turn index 2: answered through a fleet's balancer
  Report r = Analyze(run, "x", "http://127.0.0.1:1", "m");
  std::vector<nlohmann::json> lines;
  std::string text = RequestsJsonl(r), line;
  for (std::istringstream in(text); std::getline(in, line);) lines.push_back(nlohmann::json::parse(line));
  ASSERT_EQ(lines.size(), 7u);
  for (size_t i = 1; i < lines.size(); ++i) EXPECT_LE(lines[i - 1]["start_s"], lines[i]["start_s"]);
  const nlohmann::json& last = lines.back();  // conversation 0, turn index 2: started at 4.0 s
  EXPECT_EQ(last["endpoint"], "x");
  EXPECT_EQ(last["conversation"], 0);
  EXPECT_EQ(last["turn"], 3);
  EXPECT_NEAR(last["ttft_ms"].get<double>(), 500, 1e-9);
  EXPECT_EQ(last["prompt_tokens"], 500);
  EXPECT_EQ(last["cached_tokens"], 300);
  EXPECT_EQ(last["replica"], "r1");
  EXPECT_FALSE(lines.front().contains("replica"));  // no balancer header: no field
  int failed = 0;
  for (const auto& l : lines) failed += l.contains("error");
  EXPECT_EQ(failed, 2);
}

TEST(ReportTest, NoCachedCountsMeansNotReported) {
  RunResult run = Synthetic();
  for (auto& rec : run.records) rec.result.cached_tokens = -1;
  Report r = Analyze(run, "x", "u", "m");
  EXPECT_LT(r.cached_share, 0);
  EXPECT_LT(r.by_turn[1].cached_share, 0);
  EXPECT_TRUE(ReportJson(r)["cached_share"].is_null());
  EXPECT_NE(TextSummary(r).find("not reported"), std::string::npos);
}

TEST(ReportTest, EmptyRunDoesNotDivideByZero) {
  RunResult run;
  Report r = Analyze(run, "x", "u", "m");
  EXPECT_EQ(r.requests, 0);
  EXPECT_EQ(r.ttft_s.count, 0);
  EXPECT_FALSE(TextSummary(r).empty());
  EXPECT_FALSE(PlotScript({&r}, "/tmp").empty());
}

TEST(ReportTest, CompareGivesRatiosAOverB) {
  Report a = Analyze(Synthetic(), "a", "u", "m");
  RunResult slow = Synthetic();
  for (auto& rec : slow.records) rec.result.ttft_s *= 2;
  Report b = Analyze(slow, "b", "u", "m");
  nlohmann::json j = CompareJson(a, b);
  EXPECT_DOUBLE_EQ(j["ratios"]["TTFT p50 (ms)"]["ratio"].get<double>(), 0.5);
  EXPECT_DOUBLE_EQ(j["ratios"]["TTFT p50 turn 2 (ms)"]["ratio"].get<double>(), 0.5);
  EXPECT_EQ(j["ratios"]["TTFT p50 (ms)"]["better"], "lower");
  EXPECT_EQ(j["endpoints"].size(), 2u);
  std::string text = CompareText(a, b);
  EXPECT_NE(text.find("TTFT p99 turn 3 (ms)"), std::string::npos);
  EXPECT_NE(text.find("a/b"), std::string::npos);
}

TEST(ReportTest, PlotScriptQuotesNamesAndCoversEveryEndpoint) {
  Report a = Analyze(Synthetic(), "it's", "u", "m");
  Report b = Analyze(Synthetic(), "peer", "u", "m");
  std::string s = PlotScript({&a, &b}, "/out");
  EXPECT_NE(s.find("'it''s'"), std::string::npos);
  EXPECT_NE(s.find("$turns1"), std::string::npos);
  EXPECT_NE(s.find("'/out/ttft_by_turn.png'"), std::string::npos);
  EXPECT_NE(s.find("'/out/latency_cdf.png'"), std::string::npos);
  EXPECT_NE(s.find("'/out/throughput.png'"), std::string::npos);
}

}  // namespace
}  // namespace parley::loadgen
