// `parley bench sweep`: the same multi-turn workload at rising load (closed-loop users or
// open-loop conversation rates) against one or two endpoints, each load point its own run,
// and the goodput: the highest load whose TTFT p50 and time-per-output-token p99 stay within
// bounds. This file owns the sweep's order, the per-point figures, the goodput rule, and the
// JSON, text and gnuplot script of the result; running one point is the caller's callback,
// so everything here is tested without a server. Not thread-safe; the sweep runs on one thread.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/status.h"
#include "loadgen/report.h"

namespace parley::loadgen {

enum class LoadKind { kUsers, kRate };  // closed loop (users) or open loop (conversations/s)

// Parses "1,2,4,8": strictly ascending positive numbers, whole numbers for users.
StatusOr<std::vector<double>> ParseLoads(const std::string& list, LoadKind kind);

struct SweepBounds {
  double ttft_p50_max_s = 1.0;
  double tpot_p99_max_s = 0.2;
  // Share of sent requests that may fail (requests cancelled by --max-duration excluded).
  double max_error_share = 0.0;
};

// One endpoint's figures at one load.
struct PointFigures {
  double load = 0;
  double duration_s = 0;
  int64_t ok = 0, failed = 0, not_sent = 0;
  int64_t cancelled = 0;  // failed only because the point's time bound cut them off
  std::map<std::string, int64_t> errors;
  double requests_per_s = 0, output_tokens_per_s = 0;
  double ttft_p50_s = 0, ttft_p99_s = 0, itl_p99_s = 0;
  double tpot_p99_s = 0;     // per request: (end-to-end - TTFT) / (output tokens - 1)
  int64_t tpot_count = 0;    // requests with two or more output tokens
  double cached_share = -1;  // -1: the server reports no cached tokens
  bool met_bounds = false;
  std::string missed;        // why not, in words; "" when met
};

// The figures of one run at `load`, checked against `bounds`. A point meets the bounds only
// when it measured something: at least one successful request with a first token and one
// with two or more output tokens (else TTFT or TPOT is unknown, not zero).
PointFigures FiguresOf(const Report& report, double load, const SweepBounds& bounds);

struct Goodput {
  bool met = false;           // false: no point met the bounds; goodput is 0
  double load = 0;            // the highest load that met them
  double requests_per_s = 0;  // completed requests/s at that load
};

// The highest load among `points` that met the bounds, even when a lower one missed (the
// table shows every point); {met = false, 0, 0} when none did.
Goodput FindGoodput(const std::vector<PointFigures>& points);

struct SweepEndpoint {
  std::string name, url, model;
};

struct SweepEndpointResult {
  SweepEndpoint endpoint;
  std::vector<PointFigures> points;     // in load order
  std::vector<nlohmann::json> reports;  // each point's full report (ReportJson)
  Goodput goodput;
};

struct SweepResult {
  LoadKind kind = LoadKind::kUsers;
  std::vector<double> loads;
  SweepBounds bounds;
  std::vector<SweepEndpointResult> endpoints;  // one or two
};

// Runs one endpoint at one load (indices into the sweep's endpoints and loads).
using RunPointFn = std::function<Report(size_t endpoint, size_t point)>;

// Point by point: at each load, every endpoint in turn (A then B), then the next load, so the
// two runs of a pair are minutes apart, not the whole sweep. `between` (may be empty) is
// called before every run but the first (a pause while the last run's cancelled requests drain).
SweepResult RunSweep(const std::vector<SweepEndpoint>& endpoints, const std::vector<double>& loads, LoadKind kind,
                     const SweepBounds& bounds, const RunPointFn& run, const std::function<void()>& between = {});

// A/B of the goodputs' requests/s; < 0 when undefined (one endpoint, or B's goodput is 0).
double GoodputRatio(const SweepResult& result);

// {"load": {"kind", "values"}, "bounds", "order", "endpoints": [{name, url, model, points: [...],
// goodput}], "goodput_ratio"}; the caller adds the options and the machine.
nlohmann::json SweepJson(const SweepResult& result);
// The table (a row per load and endpoint) and the goodput lines.
std::string SweepText(const SweepResult& result);
// A gnuplot script drawing `png`: requests/s against load, and TTFT p50 / ITL p99 against load
// (log scale, with the TTFT bound drawn), every endpoint.
std::string SweepPlotScript(const SweepResult& result, const std::string& png);

}  // namespace parley::loadgen
