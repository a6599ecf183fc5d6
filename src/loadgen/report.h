// The figures of one run (or two, compared): latency percentiles, throughput, errors by
// kind, the cached share of prompt tokens, TTFT by turn index, and output over time; as
// JSON and as text.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "loadgen/runner.h"

namespace parley::loadgen {

struct Stats {
  int64_t count = 0;
  double mean = 0, p50 = 0, p90 = 0, p99 = 0, max = 0;
};

// The p-th percentile (0..100) of sorted values, interpolating linearly between closest
// ranks (numpy's default); 0 for no values.
double Percentile(const std::vector<double>& sorted, double p);
Stats Summarize(std::vector<double> values);

struct TurnFigures {
  Stats ttft_s;
  double mean_prompt_tokens = 0;   // over the turn's requests that reported usage
  double cached_share = -1;        // cached / prompt tokens; -1 when not reported
};

// One request as sent and answered (requests.jsonl).
struct RequestRow {
  int32_t conversation = 0, turn = 0;  // turn: 0 = the first
  double start_s = 0;                  // since the run began
  bool ok = false;
  std::string error_kind;
  double ttft_s = -1, e2e_s = 0;
  int32_t prompt_tokens = -1, cached_tokens = -1, completion_tokens = -1;
  std::string replica;                 // X-Parley-Replica; "" when absent
};

struct Report {
  std::string name, url, model;
  double duration_s = 0;
  int64_t turns_planned = 0;
  int64_t requests = 0, ok = 0, failed = 0;
  int64_t not_sent = 0;               // planned turns never sent (a bound, or an earlier failure)
  std::map<std::string, int64_t> errors;  // by kind
  Stats ttft_s, tpot_s, itl_s, e2e_s;
  std::vector<TurnFigures> by_turn;   // index 0 = the first turn
  double requests_per_s = 0, output_tokens_per_s = 0, prompt_tokens_per_s = 0;
  int64_t prompt_tokens = 0, completion_tokens = 0, cached_tokens = 0;
  double cached_share = -1;           // -1 when the server reports no cached_tokens
  // Speculative decoding, summed over the requests whose server reported it; -1: none did.
  int64_t draft_tokens = -1, draft_accepted = -1;
  double mean_completion_tokens = 0;
  double bin_s = 1;                   // the timeline's bin width
  std::vector<double> output_timeline;  // output tokens/s in each bin from the start
  std::vector<double> ttft_sorted, e2e_sorted;  // for the CDF plot
  std::vector<RequestRow> rows;        // every request, in start order
};

Report Analyze(const RunResult& run, const std::string& name, const std::string& url, const std::string& model);
nlohmann::json ReportJson(const Report& report);
std::string TextSummary(const Report& report);
// One JSON object per request and line, each naming the endpoint.
std::string RequestsJsonl(const Report& report);

// The two runs of `parley bench compare`, with the ratios a/b of the headline figures.
nlohmann::json CompareJson(const Report& a, const Report& b);
std::string CompareText(const Report& a, const Report& b);

}  // namespace parley::loadgen
