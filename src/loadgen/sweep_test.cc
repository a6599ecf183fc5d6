#include "loadgen/sweep.h"

#include <gtest/gtest.h>

#include <utility>

namespace parley::loadgen {
namespace {

// A successful request: first token at `ttft`, then one token every `gap` seconds.
RequestRecord Ok(int turn, double ttft, int tokens, double gap) {
  RequestRecord rec;
  rec.turn = turn;
  TurnResult& r = rec.result;
  r.ok = true;
  r.http_status = 200;
  r.ttft_s = ttft;
  for (int i = 0; i < tokens; ++i) r.token_times_s.push_back(ttft + gap * i);
  r.e2e_s = ttft + gap * (tokens - 1);
  r.completion_tokens = tokens;
  r.prompt_tokens = 100;
  r.cached_tokens = turn > 0 ? 80 : 0;
  return rec;
}

RequestRecord Failed(const std::string& kind) {
  RequestRecord rec;
  rec.result.error_kind = kind;
  return rec;
}

Report Analyzed(std::vector<RequestRecord> records, double duration_s = 10) {
  RunResult run;
  run.duration_s = duration_s;
  run.turns_planned = static_cast<int64_t>(records.size());
  run.records = std::move(records);
  return Analyze(run, "x", "http://127.0.0.1:1", "m");
}

TEST(SweepTest, ParsesRisingLoads) {
  EXPECT_EQ(*ParseLoads("1,2,4,8,16", LoadKind::kUsers), (std::vector<double>{1, 2, 4, 8, 16}));
  EXPECT_EQ(*ParseLoads("3", LoadKind::kUsers), (std::vector<double>{3}));
  EXPECT_EQ(*ParseLoads("0.2,0.5,1", LoadKind::kRate), (std::vector<double>{0.2, 0.5, 1}));
  for (const char* bad : {"", "1,,2", "1,2,", "2,1", "1,1", "0,1", "-1", "abc", "1.5", "4097", "1;2"}) {
    auto r = ParseLoads(bad, LoadKind::kUsers);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_NE(r.status().message().find("--users"), std::string::npos) << r.status().message();
    }
  }
  EXPECT_TRUE(ParseLoads("1.5,2.5", LoadKind::kRate).ok());
  EXPECT_FALSE(ParseLoads("0.5,0.2", LoadKind::kRate).ok());
  EXPECT_NE(ParseLoads("nan", LoadKind::kRate).status().message().find("--rates"), std::string::npos);
}

TEST(SweepTest, PointFiguresUsePerRequestTimePerOutputToken) {
  // Per-request TPOT = (e2e - TTFT) / (tokens - 1) = the gap: 0.01 .. 0.10; p99 interpolates.
  std::vector<RequestRecord> recs;
  for (int i = 1; i <= 10; ++i) recs.push_back(Ok(i % 2, 0.1 * i, 5, 0.01 * i));
  recs.push_back(Ok(0, 0.05, 1, 0));  // one token: no TPOT sample, still a TTFT
  Report r = Analyzed(recs);
  PointFigures f = FiguresOf(r, 4, SweepBounds{});
  EXPECT_EQ(f.load, 4);
  EXPECT_EQ(f.ok, 11);
  EXPECT_EQ(f.tpot_count, 10);
  EXPECT_NEAR(f.tpot_p99_s, 0.0991, 1e-9);
  EXPECT_NEAR(f.ttft_p50_s, 0.5, 1e-9);
  EXPECT_NEAR(f.ttft_p99_s, r.ttft_s.p99, 0);
  EXPECT_NEAR(f.itl_p99_s, r.itl_s.p99, 0);
  EXPECT_NEAR(f.requests_per_s, 1.1, 1e-12);
  EXPECT_NEAR(f.cached_share, r.cached_share, 0);
  EXPECT_TRUE(f.met_bounds) << f.missed;
  EXPECT_EQ(f.missed, "");
}

TEST(SweepTest, BoundsAreInclusiveAndEachMissIsNamed) {
  Report r = Analyzed({Ok(0, 1.0, 3, 0.2), Ok(0, 1.0, 3, 0.2)});
  EXPECT_TRUE(FiguresOf(r, 1, SweepBounds{1.0, 0.2, 0}).met_bounds);  // exactly at both bounds
  PointFigures f = FiguresOf(r, 1, SweepBounds{0.5, 0.1, 0});
  EXPECT_FALSE(f.met_bounds);
  EXPECT_NE(f.missed.find("TTFT p50 1 s > 0.5 s"), std::string::npos) << f.missed;
  EXPECT_NE(f.missed.find("TPOT p99 0.2 s > 0.1 s"), std::string::npos) << f.missed;
  f = FiguresOf(r, 1, SweepBounds{2, 0.1, 0});
  EXPECT_EQ(f.missed.find("TTFT"), std::string::npos) << f.missed;
}

TEST(SweepTest, FailuresMissTheBoundsButCancellationsDoNot) {
  Report r = Analyzed({Ok(0, 0.1, 3, 0.01), Ok(0, 0.1, 3, 0.01), Failed("cancelled"), Failed("cancelled")});
  PointFigures f = FiguresOf(r, 2, SweepBounds{});
  EXPECT_EQ(f.failed, 2);
  EXPECT_EQ(f.cancelled, 2);
  EXPECT_TRUE(f.met_bounds) << f.missed;

  r = Analyzed({Ok(0, 0.1, 3, 0.01), Ok(0, 0.1, 3, 0.01), Ok(0, 0.1, 3, 0.01), Failed("http_503"),
                Failed("cancelled")});
  f = FiguresOf(r, 2, SweepBounds{});
  EXPECT_FALSE(f.met_bounds);
  EXPECT_EQ(f.missed, "1 of 4 requests failed (http_503=1)");
  EXPECT_TRUE(FiguresOf(r, 2, SweepBounds{1, 0.2, 0.25}).met_bounds);  // 1 of 4 allowed
  EXPECT_FALSE(FiguresOf(r, 2, SweepBounds{1, 0.2, 0.2}).met_bounds);
}

TEST(SweepTest, NothingMeasuredNeverMeetsTheBounds) {
  PointFigures f = FiguresOf(Analyzed({}), 1, SweepBounds{});
  EXPECT_FALSE(f.met_bounds);
  EXPECT_EQ(f.missed, "no request completed");
  f = FiguresOf(Analyzed({Failed("connect")}), 1, SweepBounds{});
  EXPECT_FALSE(f.met_bounds);
  EXPECT_NE(f.missed.find("no request completed"), std::string::npos);
  EXPECT_NE(f.missed.find("connect=1"), std::string::npos);
  // One-token replies: the TPOT is unknown, not zero.
  f = FiguresOf(Analyzed({Ok(0, 0.1, 1, 0)}), 1, SweepBounds{});
  EXPECT_FALSE(f.met_bounds);
  EXPECT_EQ(f.missed, "no request had two or more output tokens");
}

PointFigures Point(double load, bool met, double rps) {
  PointFigures p;
  p.load = load;
  p.met_bounds = met;
  p.requests_per_s = rps;
  return p;
}

TEST(SweepTest, GoodputIsTheHighestLoadThatMetTheBounds) {
  Goodput g = FindGoodput({Point(1, true, 0.4), Point(2, true, 0.8), Point(4, false, 0.9), Point(8, false, 1.0)});
  EXPECT_TRUE(g.met);
  EXPECT_EQ(g.load, 2);
  EXPECT_DOUBLE_EQ(g.requests_per_s, 0.8);
  // A lower point missing (noise) does not hide a higher one that met them.
  g = FindGoodput({Point(1, true, 0.4), Point(2, false, 0.8), Point(4, true, 0.9), Point(8, false, 1.0)});
  EXPECT_EQ(g.load, 4);
  EXPECT_DOUBLE_EQ(g.requests_per_s, 0.9);
  g = FindGoodput({Point(1, false, 0.4), Point(2, false, 0.8)});
  EXPECT_FALSE(g.met);
  EXPECT_EQ(g.load, 0);
  EXPECT_EQ(g.requests_per_s, 0);
  EXPECT_FALSE(FindGoodput({}).met);
}

// Endpoint e at `load` users: TTFT grows with the load (A: 0.2 s per user, B: 0.5 s), 2 x load
// requests in 10 s, so requests/s = 0.2 x load.
Report FakeRun(size_t e, double load) {
  std::vector<RequestRecord> recs;
  for (int i = 0; i < 2 * static_cast<int>(load); ++i) recs.push_back(Ok(0, (e == 0 ? 0.2 : 0.5) * load, 4, 0.05));
  return Analyzed(recs);
}

TEST(SweepTest, RunsPointByPointAndComparesGoodput) {
  const std::vector<double> loads = {1, 2, 4, 8};
  std::vector<std::pair<size_t, size_t>> calls;
  int pauses = 0;
  SweepResult s = RunSweep(
      {{"a", "http://127.0.0.1:1", "m"}, {"b", "http://127.0.0.1:2", "m"}}, loads, LoadKind::kUsers, SweepBounds{},
      [&](size_t e, size_t p) {
        calls.emplace_back(e, p);
        return FakeRun(e, loads[p]);
      },
      [&] { ++pauses; });
  EXPECT_EQ(calls, (std::vector<std::pair<size_t, size_t>>{{0, 0}, {1, 0}, {0, 1}, {1, 1}, {0, 2}, {1, 2}, {0, 3},
                                                            {1, 3}}));
  EXPECT_EQ(pauses, 7);
  ASSERT_EQ(s.endpoints.size(), 2u);
  ASSERT_EQ(s.endpoints[0].points.size(), 4u);
  // A: TTFT p50 0.2, 0.4, 0.8, 1.6 s -> meets up to 4 users; B: 0.5, 1.0 (at the bound), 2, 4 -> up to 2.
  EXPECT_EQ(s.endpoints[0].goodput.load, 4);
  EXPECT_NEAR(s.endpoints[0].goodput.requests_per_s, 0.8, 1e-12);
  EXPECT_EQ(s.endpoints[1].goodput.load, 2);
  EXPECT_NEAR(s.endpoints[1].goodput.requests_per_s, 0.4, 1e-12);
  EXPECT_NEAR(GoodputRatio(s), 2.0, 1e-12);

  nlohmann::json j = SweepJson(s);
  EXPECT_EQ(j["load"]["kind"], "users");
  EXPECT_EQ(j["load"]["values"], nlohmann::json({1, 2, 4, 8}));
  EXPECT_NEAR(j["goodput_ratio"].get<double>(), 2.0, 1e-12);
  const nlohmann::json& a = j["endpoints"][0];
  EXPECT_EQ(a["name"], "a");
  EXPECT_EQ(a["goodput"]["load"], 4);
  EXPECT_EQ(a["goodput"]["met"], true);
  ASSERT_EQ(a["points"].size(), 4u);
  const nlohmann::json& p = a["points"][3];
  EXPECT_EQ(p["load"], 8);
  EXPECT_EQ(p["met_bounds"], false);
  EXPECT_NE(p["missed"].get<std::string>().find("TTFT p50"), std::string::npos);
  EXPECT_EQ(p["ok"], 16);
  EXPECT_NEAR(p["requests_per_s"].get<double>(), 1.6, 1e-12);
  EXPECT_NEAR(p["ttft_p50_s"].get<double>(), 1.6, 1e-12);
  EXPECT_NEAR(p["tpot_p99_s"].get<double>(), 0.05, 1e-12);
  EXPECT_NEAR(p["itl_p99_s"].get<double>(), 0.05, 1e-12);
  EXPECT_NEAR(p["cached_share"].get<double>(), 0, 1e-12);
  for (const char* key : {"ttft_p99_s", "failed", "cancelled", "not_sent", "errors", "duration_s", "report"}) {
    EXPECT_TRUE(p.contains(key)) << key;
  }
  EXPECT_EQ(p["report"]["ok"], 16);

  std::string text = SweepText(s);
  EXPECT_NE(text.find("a: 0.80 requests/s at 4 users"), std::string::npos) << text;
  EXPECT_NE(text.find("b: 0.40 requests/s at 2 users"), std::string::npos) << text;
  EXPECT_NE(text.find("a/b: 2.00"), std::string::npos) << text;
}

TEST(SweepTest, NoPointMeetingTheBoundsGivesGoodputZero) {
  const std::vector<double> loads = {0.5, 1};
  SweepResult s = RunSweep({{"a", "u", "m"}, {"b", "u", "m"}}, loads, LoadKind::kRate, SweepBounds{0.01, 0.2, 0},
                           [&](size_t e, size_t p) { return FakeRun(e, 2 * loads[p]); });
  EXPECT_FALSE(s.endpoints[0].goodput.met);
  EXPECT_FALSE(s.endpoints[1].goodput.met);
  EXPECT_LT(GoodputRatio(s), 0);
  nlohmann::json j = SweepJson(s);
  EXPECT_EQ(j["load"]["kind"], "rate");
  EXPECT_TRUE(j["goodput_ratio"].is_null());
  EXPECT_TRUE(j["endpoints"][1]["goodput"]["load"].is_null());
  EXPECT_EQ(j["endpoints"][1]["goodput"]["requests_per_s"], 0);
  std::string text = SweepText(s);
  EXPECT_NE(text.find("b: 0 (no load met the bounds; at 0.5 conversations/s: TTFT p50"), std::string::npos) << text;
  EXPECT_NE(text.find("a/b: - (b's goodput is 0)"), std::string::npos) << text;
}

TEST(SweepTest, OneEndpointHasNoRatio) {
  SweepResult s = RunSweep({{"solo", "u", "m"}}, {1, 2}, LoadKind::kUsers, SweepBounds{},
                           [&](size_t e, size_t p) { return FakeRun(e, p + 1.0); });
  EXPECT_EQ(s.endpoints[0].goodput.load, 2);
  EXPECT_TRUE(SweepJson(s)["goodput_ratio"].is_null());
  EXPECT_EQ(SweepText(s).find("solo/"), std::string::npos);
}

TEST(SweepTest, PlotScriptHasEveryEndpointAndSkipsUnmeasuredPoints) {
  const std::vector<double> loads = {1, 2};
  SweepResult s = RunSweep({{"it's", "u", "m"}, {"peer", "u", "m"}}, loads, LoadKind::kUsers, SweepBounds{},
                           [&](size_t e, size_t p) { return p == 1 && e == 1 ? Analyzed({}) : FakeRun(e, loads[p]); });
  std::string script = SweepPlotScript(s, "/out/sweep.png");
  EXPECT_NE(script.find("'it''s'"), std::string::npos);
  EXPECT_NE(script.find("$sweep0 << EOD\n1 0.2 0.2 0.05\n2 0.4 0.4 0.05\nEOD"), std::string::npos) << script;
  EXPECT_NE(script.find("$sweep1 << EOD\n1 0.2 0.5 0.05\n2 0 ? ?\nEOD"), std::string::npos) << script;
  EXPECT_NE(script.find("set output '/out/sweep.png'"), std::string::npos);
  EXPECT_NE(script.find("set logscale x 2"), std::string::npos);
  EXPECT_NE(script.find("1 with lines dt 3"), std::string::npos);  // the TTFT p50 bound, 1 s
  EXPECT_NE(script.find("$goodput0 << EOD\n2 0.4\nEOD"), std::string::npos) << script;
  EXPECT_NE(script.find("$goodput1 << EOD\n1 0.2\nEOD"), std::string::npos) << script;
}

}  // namespace
}  // namespace parley::loadgen
