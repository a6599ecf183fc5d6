#include "loadgen/sweep.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "loadgen/plots.h"

namespace parley::loadgen {
namespace {

std::string Fmt(const char* fmt, double v) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), fmt, v);
  return buf;
}

std::string PadLeft(std::string s, size_t width) {
  if (s.size() < width) s.insert(0, width - s.size(), ' ');
  return s;
}

std::string Pad(std::string s, size_t width) {
  if (s.size() < width) s.append(width - s.size(), ' ');
  return s;
}

std::string LoadText(double load) { return Fmt("%g", load); }

std::string UnitText(LoadKind kind) { return kind == LoadKind::kUsers ? "users" : "conversations/s"; }

std::string Seconds(double s) { return Fmt("%.3g s", s); }

nlohmann::json OrNull(double v) { return v < 0 ? nlohmann::json(nullptr) : nlohmann::json(v); }

const char* const kColors[] = {"#1f77b4", "#d62728"};

}  // namespace

StatusOr<std::vector<double>> ParseLoads(const std::string& list, LoadKind kind) {
  const std::string what = kind == LoadKind::kUsers ? "--users" : "--rates";
  std::vector<double> out;
  size_t pos = 0;
  while (pos <= list.size()) {
    size_t comma = list.find(',', pos);
    if (comma == std::string::npos) comma = list.size();
    std::string item = list.substr(pos, comma - pos);
    char* end = nullptr;
    double v = item.empty() ? 0 : std::strtod(item.c_str(), &end);
    if (item.empty() || end != item.c_str() + item.size() || !std::isfinite(v) || v <= 0) {
      return Status::InvalidArgument(what + ": '" + item + "' is not a positive number (expected a list such as " +
                                     (kind == LoadKind::kUsers ? "1,2,4,8" : "0.2,0.5,1") + ")");
    }
    if (kind == LoadKind::kUsers && (v != std::floor(v) || v > 4096)) {
      return Status::InvalidArgument(what + ": '" + item + "' is not a whole number of users from 1 to 4096");
    }
    if (!out.empty() && v <= out.back()) {
      return Status::InvalidArgument(what + ": loads must rise strictly ('" + item + "' follows " +
                                     LoadText(out.back()) + ")");
    }
    out.push_back(v);
    pos = comma + 1;
  }
  return out;
}

PointFigures FiguresOf(const Report& r, double load, const SweepBounds& bounds) {
  PointFigures f;
  f.load = load;
  f.duration_s = r.duration_s;
  f.ok = r.ok;
  f.failed = r.failed;
  f.not_sent = r.not_sent;
  f.errors = r.errors;
  auto c = r.errors.find("cancelled");
  f.cancelled = c == r.errors.end() ? 0 : c->second;
  f.requests_per_s = r.requests_per_s;
  f.output_tokens_per_s = r.output_tokens_per_s;
  f.ttft_p50_s = r.ttft_s.p50;
  f.ttft_p99_s = r.ttft_s.p99;
  f.itl_p99_s = r.itl_s.p99;
  f.tpot_p99_s = r.tpot_s.p99;
  f.tpot_count = r.tpot_s.count;
  f.cached_share = r.cached_share;

  std::vector<std::string> missed;
  if (r.ok == 0) {
    missed.push_back("no request completed");
  } else {
    if (r.ttft_s.count == 0) {
      missed.push_back("no first token measured");
    } else if (f.ttft_p50_s > bounds.ttft_p50_max_s) {
      missed.push_back("TTFT p50 " + Seconds(f.ttft_p50_s) + " > " + Seconds(bounds.ttft_p50_max_s));
    }
    if (f.tpot_count == 0) {
      missed.push_back("no request had two or more output tokens");
    } else if (f.tpot_p99_s > bounds.tpot_p99_max_s) {
      missed.push_back("TPOT p99 " + Seconds(f.tpot_p99_s) + " > " + Seconds(bounds.tpot_p99_max_s));
    }
  }
  const int64_t failed = f.failed - f.cancelled;
  const int64_t sent = f.ok + failed;
  if (failed > 0 && static_cast<double>(failed) > bounds.max_error_share * static_cast<double>(sent)) {
    std::string kinds;
    for (const auto& [kind, n] : f.errors) {
      if (kind != "cancelled") kinds += (kinds.empty() ? "" : " ") + kind + "=" + std::to_string(n);
    }
    missed.push_back(std::to_string(failed) + " of " + std::to_string(sent) + " requests failed (" + kinds + ")");
  }
  f.met_bounds = missed.empty();
  for (size_t i = 0; i < missed.size(); ++i) f.missed += (i ? "; " : "") + missed[i];
  return f;
}

Goodput FindGoodput(const std::vector<PointFigures>& points) {
  Goodput g;
  for (const PointFigures& p : points) {
    if (p.met_bounds && (!g.met || p.load > g.load)) g = Goodput{true, p.load, p.requests_per_s};
  }
  return g;
}

SweepResult RunSweep(const std::vector<SweepEndpoint>& endpoints, const std::vector<double>& loads, LoadKind kind,
                     const SweepBounds& bounds, const RunPointFn& run, const std::function<void()>& between) {
  SweepResult result;
  result.kind = kind;
  result.loads = loads;
  result.bounds = bounds;
  for (const SweepEndpoint& e : endpoints) result.endpoints.push_back(SweepEndpointResult{e, {}, {}, {}});
  bool first = true;
  for (size_t p = 0; p < loads.size(); ++p) {
    for (size_t e = 0; e < endpoints.size(); ++e) {
      if (!first && between) between();
      first = false;
      Report report = run(e, p);
      result.endpoints[e].points.push_back(FiguresOf(report, loads[p], bounds));
      result.endpoints[e].reports.push_back(ReportJson(report));
    }
  }
  for (SweepEndpointResult& e : result.endpoints) e.goodput = FindGoodput(e.points);
  return result;
}

double GoodputRatio(const SweepResult& result) {
  if (result.endpoints.size() != 2) return -1;
  const Goodput& a = result.endpoints[0].goodput;
  const Goodput& b = result.endpoints[1].goodput;
  if (!b.met || b.requests_per_s <= 0) return -1;
  return a.requests_per_s / b.requests_per_s;
}

nlohmann::json SweepJson(const SweepResult& result) {
  nlohmann::json endpoints = nlohmann::json::array();
  for (const SweepEndpointResult& e : result.endpoints) {
    nlohmann::json points = nlohmann::json::array();
    for (size_t i = 0; i < e.points.size(); ++i) {
      const PointFigures& p = e.points[i];
      nlohmann::json j = {{"load", p.load},
                          {"duration_s", p.duration_s},
                          {"ok", p.ok},
                          {"failed", p.failed},
                          {"cancelled", p.cancelled},
                          {"not_sent", p.not_sent},
                          {"errors", p.errors},
                          {"requests_per_s", p.requests_per_s},
                          {"output_tokens_per_s", p.output_tokens_per_s},
                          {"ttft_p50_s", p.ttft_p50_s},
                          {"ttft_p99_s", p.ttft_p99_s},
                          {"itl_p99_s", p.itl_p99_s},
                          {"tpot_p99_s", p.tpot_p99_s},
                          {"tpot_count", p.tpot_count},
                          {"cached_share", OrNull(p.cached_share)},
                          {"met_bounds", p.met_bounds},
                          {"missed", p.missed}};
      if (i < e.reports.size()) j["report"] = e.reports[i];
      points.push_back(std::move(j));
    }
    endpoints.push_back({{"name", e.endpoint.name},
                         {"url", e.endpoint.url},
                         {"model", e.endpoint.model},
                         {"points", points},
                         {"goodput",
                          {{"met", e.goodput.met},
                           {"load", e.goodput.met ? nlohmann::json(e.goodput.load) : nlohmann::json(nullptr)},
                           {"requests_per_s", e.goodput.requests_per_s}}}});
  }
  return {{"load",
           {{"kind", result.kind == LoadKind::kUsers ? "users" : "rate"},
            {"unit", UnitText(result.kind)},
            {"values", result.loads}}},
          {"bounds",
           {{"ttft_p50_max_s", result.bounds.ttft_p50_max_s},
            {"tpot_p99_max_s", result.bounds.tpot_p99_max_s},
            {"max_error_share", result.bounds.max_error_share}}},
          {"order", "point by point: every endpoint in turn at one load, then the next load"},
          {"endpoints", endpoints},
          {"goodput_ratio", OrNull(GoodputRatio(result))}};
}

std::string SweepText(const SweepResult& result) {
  size_t name_w = 8;
  for (const auto& e : result.endpoints) name_w = std::max(name_w, e.endpoint.name.size() + 2);
  const std::string unit = result.kind == LoadKind::kUsers ? "users" : "conv/s";
  std::string out = Pad("endpoint", name_w) + PadLeft(unit, 7) + PadLeft("req/s", 8) + PadLeft("TTFT p50", 10) +
                    PadLeft("TTFT p99", 10) + PadLeft("ITL p99", 9) + PadLeft("TPOT p99", 10) + PadLeft("cached", 8) +
                    PadLeft("ok", 6) + PadLeft("failed", 8) + PadLeft("cut", 5) + "  bounds\n";
  for (size_t p = 0; p < result.loads.size(); ++p) {
    for (const auto& e : result.endpoints) {
      if (p >= e.points.size()) continue;
      const PointFigures& f = e.points[p];
      out += Pad(e.endpoint.name, name_w) + PadLeft(LoadText(f.load), 7) + PadLeft(Fmt("%.2f", f.requests_per_s), 8) +
             PadLeft(Fmt("%.3f", f.ttft_p50_s), 10) + PadLeft(Fmt("%.3f", f.ttft_p99_s), 10) +
             PadLeft(Fmt("%.3f", f.itl_p99_s), 9) + PadLeft(Fmt("%.3f", f.tpot_p99_s), 10) +
             PadLeft(f.cached_share < 0 ? std::string("-") : Fmt("%.0f%%", 100 * f.cached_share), 8) +
             PadLeft(std::to_string(f.ok), 6) + PadLeft(std::to_string(f.failed - f.cancelled), 8) +
             PadLeft(std::to_string(f.cancelled), 5) + "  " +
             (f.met_bounds ? std::string("met") : "missed: " + f.missed) + "\n";
    }
  }
  out += "(times in seconds; TPOT = per request (end-to-end - TTFT) / (output tokens - 1); cut = requests cancelled "
         "by --max-duration, not counted against the bounds)\n";
  out += "goodput: the highest load with TTFT p50 <= " + Seconds(result.bounds.ttft_p50_max_s) + " and TPOT p99 <= " +
         Seconds(result.bounds.tpot_p99_max_s) + ", as its completed requests/s\n";
  for (const auto& e : result.endpoints) {
    if (e.goodput.met) {
      out += "  " + e.endpoint.name + ": " + Fmt("%.2f", e.goodput.requests_per_s) + " requests/s at " +
             LoadText(e.goodput.load) + " " + UnitText(result.kind) + "\n";
    } else {
      out += "  " + e.endpoint.name + ": 0 (no load met the bounds" +
             (e.points.empty() ? std::string()
                              : "; at " + LoadText(e.points[0].load) + " " + UnitText(result.kind) + ": " +
                                    e.points[0].missed) +
             ")\n";
    }
  }
  if (result.endpoints.size() == 2) {
    const std::string a = result.endpoints[0].endpoint.name, b = result.endpoints[1].endpoint.name;
    double ratio = GoodputRatio(result);
    out += "  " + a + "/" + b + ": " +
           (ratio >= 0 ? Fmt("%.2f", ratio) : "- (" + b + "'s goodput is 0)") + "\n";
  }
  return out;
}

std::string SweepPlotScript(const SweepResult& result, const std::string& png) {
  auto num = [](double v) { return Fmt("%.6g", v); };
  std::string s;
  s += "if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) { set terminal pngcairo size 1200,520 font ',10' }"
       " else { set terminal png size 1200,520 }\n";
  s += "set datafile missing '?'\nset grid\n";
  for (size_t i = 0; i < result.endpoints.size(); ++i) {
    // load, requests/s, TTFT p50, ITL p99 ('?' where nothing was measured: no point on a log axis)
    s += "$sweep" + std::to_string(i) + " << EOD\n";
    for (const PointFigures& p : result.endpoints[i].points) {
      s += num(p.load) + " " + num(p.requests_per_s) + " " + (p.ok > 0 && p.ttft_p50_s > 0 ? num(p.ttft_p50_s) : "?") +
           " " + (p.itl_p99_s > 0 ? num(p.itl_p99_s) : "?") + "\n";
    }
    if (result.endpoints[i].points.empty()) s += "? ? ? ?\n";
    s += "EOD\n";
    const Goodput& g = result.endpoints[i].goodput;
    s += "$goodput" + std::to_string(i) + " << EOD\n" + (g.met ? num(g.load) + " " + num(g.requests_per_s) : "? ?") +
         "\nEOD\n";
  }
  const std::string xlabel = result.kind == LoadKind::kUsers ? "concurrent users (closed loop)"
                                                             : "new conversations per second (open loop)";
  s += "set output " + GnuplotQuote(png) + "\n";
  s += "set multiplot layout 1,2\n";
  if (result.kind == LoadKind::kUsers) s += "set logscale x 2\n";
  s += "set xlabel " + GnuplotQuote(xlabel) + "\n";
  auto plot = [&](const std::string& each_fmt, const std::string& extra) {
    std::string line = "plot ";
    for (size_t i = 0; i < result.endpoints.size(); ++i) {
      std::string each = each_fmt;
      for (const auto& [key, value] :
           {std::pair<std::string, std::string>{"@N", std::to_string(i)},
            {"@C", std::string(" lc rgb '") + kColors[i % 2] + "'"},
            {"@QNAME", GnuplotQuote(result.endpoints[i].endpoint.name)}}) {
        for (size_t pos = each.find(key); pos != std::string::npos; pos = each.find(key, pos + value.size())) {
          each.replace(pos, key.size(), value);
        }
      }
      line += (i ? ", \\\n     " : "") + each;
    }
    return line + extra + "\n";
  };
  s += "set title 'Completed requests per second (circled: the goodput)'\nset ylabel 'requests/s'\n"
       "set yrange [0:*]\nset key top left\n";
  s += plot("$sweep@N using 1:2 with linespoints lw 2 pt 7 @C title @QNAME, "
            "$goodput@N using 1:2 with points pt 6 ps 3 lw 2 @C title @QNAME.' goodput'",
            "");
  s += "set title 'Latency against load (dotted: the TTFT p50 bound)'\nset ylabel 'seconds'\n"
       "set logscale y\nset yrange [*:*]\nset key top left\n";
  s += plot("$sweep@N using 1:3 with linespoints lw 2 pt 7 @C title @QNAME.' TTFT p50', "
            "$sweep@N using 1:4 with linespoints lw 1 dt 2 pt 6 @C title @QNAME.' ITL p99'",
            ", \\\n     " + num(result.bounds.ttft_p50_max_s) + " with lines dt 3 lc rgb '#555555' title 'TTFT p50 bound'");
  s += "unset multiplot\nunset output\n";
  return s;
}

}  // namespace parley::loadgen
