#include "loadgen/report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace parley::loadgen {
namespace {

std::string Fmt(const char* fmt, double v) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), fmt, v);
  return buf;
}

nlohmann::json StatsJson(const Stats& s) {
  return {{"count", s.count}, {"mean", s.mean}, {"p50", s.p50}, {"p90", s.p90}, {"p99", s.p99}, {"max", s.max}};
}

std::string Pad(std::string s, size_t width) {
  if (s.size() < width) s.append(width - s.size(), ' ');
  return s;
}

std::string PadLeft(std::string s, size_t width) {
  if (s.size() < width) s.insert(0, width - s.size(), ' ');
  return s;
}

}  // namespace

double Percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  double rank = std::clamp(p, 0.0, 100.0) / 100.0 * static_cast<double>(sorted.size() - 1);
  size_t lo = static_cast<size_t>(std::floor(rank));
  size_t hi = std::min(lo + 1, sorted.size() - 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - static_cast<double>(lo));
}

Stats Summarize(std::vector<double> values) {
  Stats s;
  if (values.empty()) return s;
  std::sort(values.begin(), values.end());
  s.count = static_cast<int64_t>(values.size());
  double sum = 0;
  for (double v : values) sum += v;
  s.mean = sum / static_cast<double>(values.size());
  s.p50 = Percentile(values, 50);
  s.p90 = Percentile(values, 90);
  s.p99 = Percentile(values, 99);
  s.max = values.back();
  return s;
}

Report Analyze(const RunResult& run, const std::string& name, const std::string& url, const std::string& model) {
  Report rep;
  rep.name = name;
  rep.url = url;
  rep.model = model;
  rep.duration_s = run.duration_s;
  rep.turns_planned = run.turns_planned;
  rep.requests = static_cast<int64_t>(run.records.size());
  rep.not_sent = run.turns_planned - rep.requests;
  for (const auto& rec : run.records) {
    const TurnResult& r = rec.result;
    rep.rows.push_back(RequestRow{rec.conversation, rec.turn, rec.start_s, r.ok, r.error_kind, r.ttft_s, r.e2e_s,
                                  r.prompt_tokens, r.cached_tokens, r.completion_tokens, r.replica});
  }
  std::stable_sort(rep.rows.begin(), rep.rows.end(),
                   [](const RequestRow& a, const RequestRow& b) { return a.start_s < b.start_s; });

  std::vector<double> ttft, tpot, itl, e2e;
  int32_t max_turn = -1;
  for (const auto& rec : run.records) max_turn = std::max(max_turn, rec.turn);
  std::vector<std::vector<double>> ttft_turn(static_cast<size_t>(max_turn + 1));
  std::vector<int64_t> prompt_turn(ttft_turn.size()), usage_turn(ttft_turn.size()), cached_turn(ttft_turn.size());
  std::vector<bool> cached_reported_turn(ttft_turn.size());
  bool cached_reported = false;
  int64_t usage_prompt_tokens = 0;  // over requests that reported both counts

  for (const auto& rec : run.records) {
    const TurnResult& r = rec.result;
    if (!r.ok) {
      rep.failed += 1;
      rep.errors[r.error_kind] += 1;
      continue;
    }
    rep.ok += 1;
    if (r.ttft_s >= 0) {
      ttft.push_back(r.ttft_s);
      ttft_turn[rec.turn].push_back(r.ttft_s);
    }
    e2e.push_back(r.e2e_s);
    int64_t n = OutputTokens(r);
    rep.completion_tokens += n;
    if (n >= 2 && r.ttft_s >= 0) tpot.push_back((r.e2e_s - r.ttft_s) / static_cast<double>(n - 1));
    for (size_t i = 1; i < r.token_times_s.size(); ++i) itl.push_back(r.token_times_s[i] - r.token_times_s[i - 1]);
    if (r.draft_tokens >= 0 && r.draft_accepted >= 0) {
      rep.draft_tokens = std::max<int64_t>(rep.draft_tokens, 0) + r.draft_tokens;
      rep.draft_accepted = std::max<int64_t>(rep.draft_accepted, 0) + r.draft_accepted;
    }
    if (r.prompt_tokens >= 0) {
      rep.prompt_tokens += r.prompt_tokens;
      prompt_turn[rec.turn] += r.prompt_tokens;
      usage_turn[rec.turn] += 1;
      if (r.cached_tokens >= 0) {
        cached_reported = true;
        cached_reported_turn[rec.turn] = true;
        rep.cached_tokens += r.cached_tokens;
        cached_turn[rec.turn] += r.cached_tokens;
        usage_prompt_tokens += r.prompt_tokens;
      }
    }
  }
  rep.ttft_s = Summarize(ttft);
  rep.tpot_s = Summarize(tpot);
  rep.itl_s = Summarize(itl);
  rep.e2e_s = Summarize(e2e);
  rep.ttft_sorted = ttft;
  std::sort(rep.ttft_sorted.begin(), rep.ttft_sorted.end());
  rep.e2e_sorted = e2e;
  std::sort(rep.e2e_sorted.begin(), rep.e2e_sorted.end());
  if (cached_reported && usage_prompt_tokens > 0) {
    rep.cached_share = static_cast<double>(rep.cached_tokens) / static_cast<double>(usage_prompt_tokens);
  }
  for (size_t t = 0; t < ttft_turn.size(); ++t) {
    TurnFigures f;
    f.ttft_s = Summarize(ttft_turn[t]);
    if (usage_turn[t] > 0) {
      f.mean_prompt_tokens = static_cast<double>(prompt_turn[t]) / static_cast<double>(usage_turn[t]);
      if (cached_reported_turn[t] && prompt_turn[t] > 0) {
        f.cached_share = static_cast<double>(cached_turn[t]) / static_cast<double>(prompt_turn[t]);
      }
    }
    rep.by_turn.push_back(f);
  }
  if (rep.duration_s > 0) {
    rep.requests_per_s = static_cast<double>(rep.ok) / rep.duration_s;
    rep.output_tokens_per_s = static_cast<double>(rep.completion_tokens) / rep.duration_s;
    rep.prompt_tokens_per_s = static_cast<double>(rep.prompt_tokens) / rep.duration_s;
  }
  if (rep.ok > 0) rep.mean_completion_tokens = static_cast<double>(rep.completion_tokens) / static_cast<double>(rep.ok);

  // Output over time: every streamed chunk of every request (failed ones too: their tokens
  // were produced), in bins of about a sixtieth of the run, at least one second.
  rep.bin_s = std::max(1.0, std::ceil(rep.duration_s / 60.0));
  size_t bins = static_cast<size_t>(std::ceil(std::max(rep.duration_s, 1e-9) / rep.bin_s));
  rep.output_timeline.assign(std::max<size_t>(bins, 1), 0.0);
  for (const auto& rec : run.records) {
    for (double t : rec.result.token_times_s) {
      size_t b = static_cast<size_t>((rec.start_s + t) / rep.bin_s);
      rep.output_timeline[std::min(b, rep.output_timeline.size() - 1)] += 1.0 / rep.bin_s;
    }
  }
  return rep;
}

nlohmann::json ReportJson(const Report& r) {
  nlohmann::json turns = nlohmann::json::array();
  for (size_t t = 0; t < r.by_turn.size(); ++t) {
    const TurnFigures& f = r.by_turn[t];
    turns.push_back({{"turn", t + 1},
                     {"ttft_s", StatsJson(f.ttft_s)},
                     {"mean_prompt_tokens", f.mean_prompt_tokens},
                     {"cached_share", f.cached_share < 0 ? nlohmann::json(nullptr) : nlohmann::json(f.cached_share)}});
  }
  return {{"name", r.name},
          {"url", r.url},
          {"model", r.model},
          {"duration_s", r.duration_s},
          {"turns_planned", r.turns_planned},
          {"requests", r.requests},
          {"ok", r.ok},
          {"failed", r.failed},
          {"not_sent", r.not_sent},
          {"errors", r.errors},
          {"ttft_s", StatsJson(r.ttft_s)},
          {"tpot_s", StatsJson(r.tpot_s)},
          {"itl_s", StatsJson(r.itl_s)},
          {"e2e_s", StatsJson(r.e2e_s)},
          {"requests_per_s", r.requests_per_s},
          {"output_tokens_per_s", r.output_tokens_per_s},
          {"prompt_tokens_per_s", r.prompt_tokens_per_s},
          {"prompt_tokens", r.prompt_tokens},
          {"completion_tokens", r.completion_tokens},
          {"mean_completion_tokens", r.mean_completion_tokens},
          {"cached_tokens", r.cached_tokens},
          {"cached_share", r.cached_share < 0 ? nlohmann::json(nullptr) : nlohmann::json(r.cached_share)},
          {"draft_tokens", r.draft_tokens < 0 ? nlohmann::json(nullptr) : nlohmann::json(r.draft_tokens)},
          {"draft_accepted", r.draft_accepted < 0 ? nlohmann::json(nullptr) : nlohmann::json(r.draft_accepted)},
          {"by_turn", turns},
          {"timeline", {{"bin_s", r.bin_s}, {"output_tokens_per_s", r.output_timeline}}}};
}

std::string TextSummary(const Report& r) {
  std::string out;
  auto line = [&](const std::string& s) { out += s + "\n"; };
  auto ms = [](const Stats& s) {
    return Fmt("%.1f", s.p50 * 1e3) + " / " + Fmt("%.1f", s.p90 * 1e3) + " / " + Fmt("%.1f", s.p99 * 1e3) + " / " +
           Fmt("%.1f", s.max * 1e3);
  };
  line("== " + r.name + " (" + r.url + ", model " + r.model + ")");
  line("requests: " + std::to_string(r.ok) + " ok, " + std::to_string(r.failed) + " failed, " +
       std::to_string(r.not_sent) + " of " + std::to_string(r.turns_planned) + " planned turns not sent; " +
       Fmt("%.1f", r.duration_s) + " s");
  if (!r.errors.empty()) {
    std::string e = "errors:";
    for (const auto& [kind, n] : r.errors) e += " " + kind + "=" + std::to_string(n);
    line(e);
  }
  line("latency (ms)      p50 / p90 / p99 / max");
  line("  TTFT            " + ms(r.ttft_s));
  line("  time per token  " + ms(r.tpot_s));
  line("  inter-token     " + ms(r.itl_s));
  line("  end-to-end      " + ms(r.e2e_s));
  line("throughput: " + Fmt("%.2f", r.requests_per_s) + " requests/s, " + Fmt("%.1f", r.output_tokens_per_s) +
       " output tokens/s, " + Fmt("%.1f", r.prompt_tokens_per_s) + " prompt tokens/s (mean reply " +
       Fmt("%.1f", r.mean_completion_tokens) + " tokens)");
  line("cached prompt tokens: " +
       (r.cached_share < 0 ? std::string("not reported by the server")
                           : Fmt("%.1f%%", 100 * r.cached_share) + " (" + std::to_string(r.cached_tokens) + " of " +
                                 std::to_string(r.prompt_tokens) + ")"));
  if (r.draft_tokens >= 0) {
    line("speculative decoding: " + std::to_string(r.draft_accepted) + " of " + std::to_string(r.draft_tokens) +
         " drafted tokens accepted" +
         (r.draft_tokens > 0 ? Fmt(" (%.1f%%)", 100.0 * static_cast<double>(r.draft_accepted) / r.draft_tokens) : ""));
  }
  line("by turn   n   TTFT p50 (ms)  TTFT p99 (ms)  prompt tokens  cached");
  for (size_t t = 0; t < r.by_turn.size(); ++t) {
    const TurnFigures& f = r.by_turn[t];
    line(PadLeft(std::to_string(t + 1), 7) + PadLeft(std::to_string(f.ttft_s.count), 4) +
         PadLeft(Fmt("%.1f", f.ttft_s.p50 * 1e3), 15) + PadLeft(Fmt("%.1f", f.ttft_s.p99 * 1e3), 15) +
         PadLeft(Fmt("%.0f", f.mean_prompt_tokens), 15) +
         PadLeft(f.cached_share < 0 ? std::string("-") : Fmt("%.0f%%", 100 * f.cached_share), 8));
  }
  return out;
}

namespace {

struct Ratio {
  std::string label;
  double a, b;
  std::string better;  // "lower" or "higher"
};

std::vector<Ratio> Ratios(const Report& a, const Report& b) {
  std::vector<Ratio> out = {
      {"TTFT p50 (ms)", a.ttft_s.p50 * 1e3, b.ttft_s.p50 * 1e3, "lower"},
      {"TTFT p99 (ms)", a.ttft_s.p99 * 1e3, b.ttft_s.p99 * 1e3, "lower"},
  };
  size_t turns = std::min(a.by_turn.size(), b.by_turn.size());
  for (size_t t = 0; t < turns; ++t) {
    out.push_back({"TTFT p50 turn " + std::to_string(t + 1) + " (ms)", a.by_turn[t].ttft_s.p50 * 1e3,
                   b.by_turn[t].ttft_s.p50 * 1e3, "lower"});
    out.push_back({"TTFT p99 turn " + std::to_string(t + 1) + " (ms)", a.by_turn[t].ttft_s.p99 * 1e3,
                   b.by_turn[t].ttft_s.p99 * 1e3, "lower"});
  }
  std::vector<Ratio> rest = {
      {"time per token p50 (ms)", a.tpot_s.p50 * 1e3, b.tpot_s.p50 * 1e3, "lower"},
      {"inter-token p50 (ms)", a.itl_s.p50 * 1e3, b.itl_s.p50 * 1e3, "lower"},
      {"end-to-end p50 (ms)", a.e2e_s.p50 * 1e3, b.e2e_s.p50 * 1e3, "lower"},
      {"end-to-end p99 (ms)", a.e2e_s.p99 * 1e3, b.e2e_s.p99 * 1e3, "lower"},
      {"output tokens/s", a.output_tokens_per_s, b.output_tokens_per_s, "higher"},
      {"requests/s", a.requests_per_s, b.requests_per_s, "higher"},
      {"mean reply tokens", a.mean_completion_tokens, b.mean_completion_tokens, ""},
      {"cached share (%)", a.cached_share < 0 ? -1 : 100 * a.cached_share,
       b.cached_share < 0 ? -1 : 100 * b.cached_share, "higher"},
      {"failed requests", static_cast<double>(a.failed), static_cast<double>(b.failed), "lower"},
  };
  out.insert(out.end(), rest.begin(), rest.end());
  return out;
}

}  // namespace

nlohmann::json CompareJson(const Report& a, const Report& b) {
  nlohmann::json ratios = nlohmann::json::object();
  for (const Ratio& r : Ratios(a, b)) {
    ratios[r.label] = {{a.name, r.a},
                       {b.name, r.b},
                       {"ratio", r.b != 0 && r.a >= 0 && r.b >= 0 ? nlohmann::json(r.a / r.b) : nlohmann::json(nullptr)},
                       {"better", r.better}};
  }
  return {{"endpoints", {ReportJson(a), ReportJson(b)}}, {"ratios", ratios}};
}

std::string CompareText(const Report& a, const Report& b) {
  std::string out = Pad("", 28) + PadLeft(a.name, 14) + PadLeft(b.name, 14) + PadLeft(a.name + "/" + b.name, 20) +
                    "  better\n";
  for (const Ratio& r : Ratios(a, b)) {
    auto cell = [](double v) { return v < 0 ? std::string("-") : Fmt("%.1f", v); };
    std::string ratio = r.b != 0 && r.a >= 0 && r.b >= 0 ? Fmt("%.2f", r.a / r.b) : std::string("-");
    out += Pad(r.label, 28) + PadLeft(cell(r.a), 14) + PadLeft(cell(r.b), 14) + PadLeft(ratio, 20) + "  " + r.better +
           "\n";
  }
  return out;
}

std::string RequestsJsonl(const Report& report) {
  std::string out;
  for (const RequestRow& r : report.rows) {
    nlohmann::json j = {{"endpoint", report.name},
                        {"conversation", r.conversation},
                        {"turn", r.turn + 1},
                        {"start_s", r.start_s},
                        {"ok", r.ok}};
    if (!r.ok) j["error"] = r.error_kind;
    if (r.ttft_s >= 0) j["ttft_ms"] = r.ttft_s * 1e3;
    j["e2e_ms"] = r.e2e_s * 1e3;
    if (r.prompt_tokens >= 0) j["prompt_tokens"] = r.prompt_tokens;
    if (r.cached_tokens >= 0) j["cached_tokens"] = r.cached_tokens;
    if (r.completion_tokens >= 0) j["completion_tokens"] = r.completion_tokens;
    if (!r.replica.empty()) j["replica"] = r.replica;
    out += j.dump() + "\n";
  }
  return out;
}

}  // namespace parley::loadgen
