// parley bench: replays multi-turn conversations against one OpenAI-compatible endpoint, or
// (`parley bench compare`) the same workload against two, one after the other, and prints the
// ratios. Writes report.json, summary.txt, requests.jsonl (one line per request) and PNG
// plots into --out. `parley bench sweep` runs the workload at rising load (loadgen/sweep.h)
// and writes sweep.json, summary.txt and sweep.png.
#include <signal.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include "commands.h"
#include "loadgen/client.h"
#include "loadgen/plots.h"
#include "loadgen/report.h"
#include "loadgen/runner.h"
#include "loadgen/sweep.h"
#include "loadgen/workload.h"

namespace parley {
namespace {

using namespace parley::loadgen;

CLI::Validator DistributionSpec() {
  return CLI::Validator(
      [](std::string& s) {
        auto d = Distribution::Parse(s);
        return d.ok() ? std::string() : d.status().message();
      },
      "DIST", "distribution");
}

// The workload and run options; `sweep` leaves out those a sweep sets per point (-n, --users,
// --rate, --seed), which it adds in its own form.
void AddWorkloadOptions(CLI::App* cmd, BenchOptions* o, bool sweep = false) {
  cmd->option_defaults()->always_capture_default();
  const char* dist_help = " (N, uniform:A:B, normal:M:S, lognormal:M:S, exp:M; then ,min=X ,max=Y)";
  if (!sweep) {
    cmd->add_option("-n,--conversations", o->conversations, "conversations to replay")->check(CLI::Range(1, 1000000));
  }
  cmd->add_option("--turns", o->turns, "turns per conversation (with --dataset: at most this many; 0 = all)")
      ->check(CLI::Range(0, 100000));
  if (!sweep) {
    cmd->add_option("--users", o->users, "closed loop: concurrent users, each playing one conversation after another")
        ->check(CLI::Range(1, 4096));
    cmd->add_option("--rate", o->rate, "open loop instead: new conversations per second (Poisson arrivals)")
        ->check(CLI::Range(0.0, 1e6));
  }
  cmd->add_flag("--interleave", o->interleave,
                "closed loop: each user keeps its share of the conversations open at once and sends a turn of each "
                "in rotation (many open chats), instead of playing them one after another");
  cmd->add_option("--persona-tokens", o->persona_tokens, std::string("system prompt length") + dist_help)
      ->check(DistributionSpec());
  cmd->add_option("--characters", o->characters,
                  "conversations draw their persona from this many shared characters (a system prompt shared "
                  "across conversations, as with Character.AI's characters); 0: each its own")
      ->check(CLI::Range(0, 1 << 20));
  cmd->add_option("--user-tokens", o->user_tokens, std::string("user message length") + dist_help)
      ->check(DistributionSpec());
  cmd->add_option("--reply-tokens", o->reply_tokens, std::string("reply budget, max_tokens") + dist_help)
      ->check(DistributionSpec());
  cmd->add_option("--think-time", o->think_time, std::string("seconds between a reply and the next message") + dist_help)
      ->check(DistributionSpec());
  cmd->add_option("--dataset", o->dataset, "replay conversations from a ShareGPT-style JSON file instead")
      ->check(CLI::ExistingFile);
  if (!sweep) cmd->add_option("--seed", o->seed, "workload and sampling seed");
  cmd->add_option("--temperature", o->temperature, "sampling temperature of every request")->check(CLI::Range(0.0, 2.0));
  cmd->add_flag("--ignore-eos", o->ignore_eos, "send ignore_eos (llama-server extension) so replies fill their budget");
  cmd->add_option("--max-duration", o->max_duration_s,
                  sweep ? "stop each run (one load, one endpoint) after this many seconds"
                        : "stop after this many seconds per endpoint")
      ->check(CLI::Range(0.1, 1e7));
  cmd->add_option("--max-requests", o->max_requests,
                  sweep ? "stop each run after this many requests (0 = all)"
                        : "stop after this many requests per endpoint (0 = all)")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 40));
  cmd->add_option("--request-timeout", o->request_timeout_s, "seconds before one request counts as timed out")
      ->check(CLI::Range(0.1, 1e6));
  cmd->add_option("--wait-ready", o->wait_ready_s, "seconds to wait for an endpoint to answer /v1/models")
      ->check(CLI::Range(0.0, 1e5));
  cmd->add_option("--api-key", o->api_key, "bearer token for the endpoints");
  cmd->add_flag("--allow-remote", o->allow_remote, "allow endpoints that are not on this machine");
  cmd->add_option("-o,--out", o->out_dir,
                  sweep ? "directory for sweep.json, summary.txt and sweep.png"
                        : "directory for report.json, summary.txt and the plots");
  cmd->add_flag("--no-plots", o->no_plots, sweep ? "skip the PNG plot" : "skip the PNG plots");
  cmd->add_flag("-q,--quiet", o->quiet, "no progress line");
}

StatusOr<std::vector<ConversationPlan>> MakePlans(const BenchOptions& o) {
  if (!o.dataset.empty()) {
    DatasetOptions d;
    d.max_conversations = o.conversations;
    d.max_turns = o.turns;
    d.think_time_s = *Distribution::Parse(o.think_time);
    d.seed = o.seed;
    return LoadDataset(o.dataset, d);
  }
  if (o.turns <= 0) return Status::InvalidArgument("--turns must be at least 1 for a synthetic workload");
  SyntheticOptions s;
  s.conversations = o.conversations;
  s.turns = o.turns;
  s.persona_tokens = *Distribution::Parse(o.persona_tokens);
  s.user_tokens = *Distribution::Parse(o.user_tokens);
  s.reply_tokens = *Distribution::Parse(o.reply_tokens);
  s.think_time_s = *Distribution::Parse(o.think_time);
  s.seed = o.seed;
  s.characters = o.characters;
  return MakeSyntheticWorkload(s);
}

nlohmann::json WorkloadJson(const BenchOptions& o, const std::vector<ConversationPlan>& plans) {
  double persona = 0, user = 0, budget = 0;
  int64_t turns = 0;
  for (const auto& p : plans) {
    persona += EstimateTokens(p.system_prompt);
    for (const auto& t : p.turns) {
      user += EstimateTokens(t.user_message);
      budget += t.max_tokens;
      ++turns;
    }
  }
  nlohmann::json j = {{"source", o.dataset.empty() ? "synthetic" : o.dataset},
                      {"conversations", plans.size()},
                      {"turns", turns},
                      {"loop", o.rate > 0 ? "open" : (o.interleave ? "closed, interleaved" : "closed")},
                      {"users", o.users},
                      {"rate", o.rate},
                      {"persona_tokens", o.persona_tokens},
                      {"characters", o.characters},
                      {"user_tokens", o.user_tokens},
                      {"reply_tokens", o.reply_tokens},
                      {"think_time_s", o.think_time},
                      {"seed", o.seed},
                      {"temperature", o.temperature},
                      {"ignore_eos", o.ignore_eos},
                      {"estimated_mean_persona_tokens", plans.empty() ? 0 : persona / plans.size()},
                      {"estimated_mean_user_tokens", turns ? user / turns : 0},
                      {"mean_reply_budget", turns ? budget / turns : 0}};
  return j;
}

nlohmann::json MachineJson() {
  std::string cpu;
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("model name", 0) == 0) {
      cpu = line.substr(line.find(':') + 2);
      break;
    }
  }
  return {{"cpu", cpu}, {"logical_cpus", std::thread::hardware_concurrency()}};
}

StatusOr<Endpoint> Prepare(const std::string& url, const std::string& model, const BenchOptions& o) {
  auto e = ParseEndpoint(url, o.allow_remote);
  if (!e.ok()) return e.status();
  e->api_key = o.api_key;
  // Wait for the endpoint to answer (llama-server answers 503 while it loads).
  auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(o.wait_ready_s);
  StatusOr<std::string> id = Status::Unavailable("not asked");
  while (true) {
    id = FetchModelId(*e, 5);
    if (id.ok() || std::chrono::steady_clock::now() >= deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  if (!id.ok()) return Status::Unavailable("endpoint not ready: " + id.status().message());
  e->model = model.empty() ? *id : model;
  return e;
}

Report RunOne(const Endpoint& e, const std::string& name, const std::vector<ConversationPlan>& plans,
              const BenchOptions& o) {
  loadgen::RunOptions r;
  r.name = name;
  r.users = o.users;
  r.rate = o.rate;
  r.interleave = o.interleave;
  r.max_duration_s = o.max_duration_s;
  r.max_requests = o.max_requests;
  r.request_timeout_s = o.request_timeout_s;
  r.temperature = o.temperature;
  r.ignore_eos = o.ignore_eos;
  r.seed = o.seed;
  r.progress = !o.quiet;
  RunResult run = RunWorkload(e, plans, r);
  if (run.hit_time_bound) std::fprintf(stderr, "[%s] stopped at --max-duration %.0f s\n", name.c_str(), o.max_duration_s);
  if (run.hit_request_bound) std::fprintf(stderr, "[%s] stopped at --max-requests %lld\n", name.c_str(),
                                          static_cast<long long>(o.max_requests));
  return Analyze(run, name, e.url, e.model);
}

// Writes the report files; returns false (after saying why) when the directory is unusable.
bool WriteOutputs(const BenchOptions& o, const nlohmann::json& report, const std::string& summary,
                  const std::vector<const Report*>& reports) {
  if (o.out_dir.empty()) return true;
  std::error_code ec;
  std::filesystem::create_directories(o.out_dir, ec);
  if (ec) {
    std::fprintf(stderr, "error: cannot create %s: %s\n", o.out_dir.c_str(), ec.message().c_str());
    return false;
  }
  std::ofstream(o.out_dir + "/report.json") << report.dump(2) << "\n";
  std::ofstream(o.out_dir + "/summary.txt") << summary;
  {
    std::ofstream rows(o.out_dir + "/requests.jsonl");
    for (const Report* r : reports) rows << RequestsJsonl(*r);
  }
  std::printf("wrote %s/report.json, %s/summary.txt and %s/requests.jsonl\n", o.out_dir.c_str(),
              o.out_dir.c_str(), o.out_dir.c_str());
  if (!o.no_plots) {
    std::vector<std::string> pngs;
    Status s = WritePlots(reports, o.out_dir, &pngs);
    if (!s.ok()) {
      std::fprintf(stderr, "plots: %s\n", s.message().c_str());
    } else {
      for (const auto& p : pngs) std::printf("wrote %s\n", p.c_str());
    }
  }
  return true;
}

std::string WorkloadLine(const nlohmann::json& w) {
  char buf[512];
  std::snprintf(buf, sizeof(buf),
                "workload: %s, %d conversations, %d turns in all, %s loop (%s), persona ~%.0f tokens, user messages "
                "~%.0f tokens, reply budget %.0f tokens, think time %s s, seed %llu\n",
                w["source"].get<std::string>().c_str(), w["conversations"].get<int>(), w["turns"].get<int>(),
                w["loop"].get<std::string>().c_str(),
                w["loop"] == "open" ? (std::to_string(w["rate"].get<double>()) + " conversations/s").c_str()
                                    : (std::to_string(w["users"].get<int>()) + " users").c_str(),
                w["estimated_mean_persona_tokens"].get<double>(), w["estimated_mean_user_tokens"].get<double>(),
                w["mean_reply_budget"].get<double>(), w["think_time_s"].get<std::string>().c_str(),
                static_cast<unsigned long long>(w["seed"].get<uint64_t>()));
  return buf;
}

}  // namespace

void AddBenchCommand(CLI::App* app, BenchOptions* bench, BenchOptions* compare, CLI::App** bench_cmd,
                     CLI::App** compare_cmd) {
  *bench_cmd = app->add_subcommand("bench", "replay multi-turn conversations against an OpenAI-compatible endpoint");
  (*bench_cmd)->option_defaults()->always_capture_default();
  (*bench_cmd)->require_subcommand(0, 1);
  (*bench_cmd)->add_option("--url", bench->url_a, "the endpoint (http://HOST:PORT[/v1])");
  (*bench_cmd)->add_option("--name", bench->name_a, "its name in the report");
  (*bench_cmd)->add_option("--model", bench->model_a, "the request's model field (default: the endpoint's first)");
  AddWorkloadOptions(*bench_cmd, bench);
  *compare_cmd = (*bench_cmd)->add_subcommand("compare", "run the same workload against two endpoints, then compare");
  (*compare_cmd)->add_option("--url-a", compare->url_a, "first endpoint")->required();
  (*compare_cmd)->add_option("--url-b", compare->url_b, "second endpoint")->required();
  (*compare_cmd)->add_option("--name-a", compare->name_a, "first endpoint's name");
  (*compare_cmd)->add_option("--name-b", compare->name_b, "second endpoint's name");
  (*compare_cmd)->add_option("--model-a", compare->model_a, "model field for the first endpoint");
  (*compare_cmd)->add_option("--model-b", compare->model_b, "model field for the second endpoint");
  AddWorkloadOptions(*compare_cmd, compare);
}

int RunBench(const BenchOptions& o, bool compare) {
  signal(SIGPIPE, SIG_IGN);  // a server that hangs up must not kill the load generator
  auto plans = MakePlans(o);
  if (!plans.ok()) {
    std::fprintf(stderr, "error: %s\n", plans.status().message().c_str());
    return 1;
  }
  nlohmann::json workload = WorkloadJson(o, *plans);
  std::printf("%s", WorkloadLine(workload).c_str());
  std::fflush(stdout);

  std::string name_a = o.name_a.empty() ? (compare ? "a" : "endpoint") : o.name_a;
  std::string name_b = o.name_b.empty() ? "b" : o.name_b;
  auto a = Prepare(o.url_a, o.model_a, o);
  if (!a.ok()) {
    std::fprintf(stderr, "error: %s: %s\n", name_a.c_str(), a.status().message().c_str());
    return 1;
  }
  StatusOr<Endpoint> b = Status::Unavailable("unused");
  if (compare) {
    b = Prepare(o.url_b, o.model_b, o);
    if (!b.ok()) {
      std::fprintf(stderr, "error: %s: %s\n", name_b.c_str(), b.status().message().c_str());
      return 1;
    }
  }
  nlohmann::json meta = {{"workload", workload}, {"machine", MachineJson()}, {"tool", "parley bench 0.1"}};

  Report ra = RunOne(*a, name_a, *plans, o);
  std::string summary = TextSummary(ra);
  if (!compare) {
    std::printf("\n%s", summary.c_str());
    nlohmann::json report = meta;
    // An explicit array: `= {json}` with one element is a copy of it under clang (an
    // object, not [object]), so report.json's "endpoints" had no [0] in clang builds.
    report["endpoints"] = nlohmann::json::array({ReportJson(ra)});
    return WriteOutputs(o, report, WorkloadLine(workload) + "\n" + summary, {&ra}) ? 0 : 1;
  }
  Report rb = RunOne(*b, name_b, *plans, o);
  summary += "\n" + TextSummary(rb);
  std::string ratios = CompareText(ra, rb);
  std::printf("\n%s\n%s", summary.c_str(), ratios.c_str());
  nlohmann::json report = CompareJson(ra, rb);
  report.update(meta);
  return WriteOutputs(o, report, WorkloadLine(workload) + "\n" + summary + "\n" + ratios, {&ra, &rb}) ? 0 : 1;
}

CLI::App* AddBenchSweepCommand(CLI::App* bench_cmd, BenchSweepOptions* o) {
  CLI::App* cmd = bench_cmd->add_subcommand(
      "sweep", "run the same workload at rising load against one or two endpoints and report the goodput");
  cmd->option_defaults()->always_capture_default();
  cmd->add_option("--url", o->url, "the endpoint, when there is one (default http://127.0.0.1:8080)");
  cmd->add_option("--name", o->name, "its name in the report");
  cmd->add_option("--model", o->model, "its model field (default: the endpoint's first)");
  cmd->add_option("--url-a", o->bench.url_a, "first of two endpoints (with --url-b)");
  cmd->add_option("--url-b", o->bench.url_b, "second endpoint, run after the first at every load");
  cmd->add_option("--name-a", o->bench.name_a, "first endpoint's name");
  cmd->add_option("--name-b", o->bench.name_b, "second endpoint's name");
  cmd->add_option("--model-a", o->bench.model_a, "model field for the first endpoint");
  cmd->add_option("--model-b", o->bench.model_b, "model field for the second endpoint");
  cmd->add_option("--users", o->users, "closed loop: rising user counts, one run each (default 1,2,4,8,16)");
  cmd->add_option("--rates", o->rates, "open loop instead: rising new conversations per second, one run each");
  cmd->add_option("-n,--conversations", o->conversations,
                  "conversations per point (0: 2 x users; for rates, a minute of arrivals, at least 2)")
      ->check(CLI::Range(0, 1000000));
  cmd->add_option("--seed", o->seed,
                  "seed S: point i (from 0) uses S + i (-1: each point's user count, or for rates its position from 1)")
      ->check(CLI::Range(int64_t{-1}, int64_t{1} << 62));
  cmd->add_option("--ttft-p50-max", o->ttft_p50_max_s, "goodput bound: TTFT p50 at most this many seconds")
      ->check(CLI::Range(0.0, 1e6));
  cmd->add_option("--tpot-p99-max", o->tpot_p99_max_s,
                  "goodput bound: time per output token p99 at most this many seconds")
      ->check(CLI::Range(0.0, 1e6));
  cmd->add_option("--max-error-share", o->max_error_share,
                  "goodput bound: share of requests that may fail (cancelled by --max-duration excluded)")
      ->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--pause", o->pause_s, "seconds between runs")->check(CLI::Range(0.0, 3600.0));
  AddWorkloadOptions(cmd, &o->bench, /*sweep=*/true);
  return cmd;
}

namespace {

struct SweepPointPlan {
  double load = 0;
  BenchOptions options;  // users or rate, conversations and seed of this point
  std::vector<ConversationPlan> plans;
};

StatusOr<std::vector<SweepPointPlan>> PlanSweep(const BenchSweepOptions& o, LoadKind kind) {
  auto loads = ParseLoads(kind == LoadKind::kUsers ? (o.users.empty() ? "1,2,4,8,16" : o.users) : o.rates, kind);
  if (!loads.ok()) return loads.status();
  std::vector<SweepPointPlan> points;
  for (size_t i = 0; i < loads->size(); ++i) {
    SweepPointPlan p;
    p.load = (*loads)[i];
    p.options = o.bench;
    p.options.users = kind == LoadKind::kUsers ? static_cast<int32_t>(p.load) : 1;
    p.options.rate = kind == LoadKind::kRate ? p.load : 0;
    p.options.conversations =
        o.conversations > 0 ? o.conversations
        : kind == LoadKind::kUsers ? 2 * p.options.users
                                   : std::max(2, static_cast<int32_t>(std::ceil(p.load * 60)));
    p.options.seed = o.seed >= 0 ? static_cast<uint64_t>(o.seed) + i
                     : kind == LoadKind::kUsers ? static_cast<uint64_t>(p.load)
                                                : i + 1;
    auto plans = MakePlans(p.options);
    if (!plans.ok()) return plans.status();
    p.plans = std::move(*plans);
    points.push_back(std::move(p));
  }
  return points;
}

nlohmann::json SweepOptionsJson(const BenchSweepOptions& o, LoadKind kind) {
  const BenchOptions& b = o.bench;
  return {{"loop", kind == LoadKind::kRate ? "open" : (b.interleave ? "closed, interleaved" : "closed")},
          {"users", o.users},
          {"rates", o.rates},
          {"conversations_per_point", o.conversations},
          {"seed", o.seed},
          {"source", b.dataset.empty() ? "synthetic" : b.dataset},
          {"turns", b.turns},
          {"persona_tokens", b.persona_tokens},
          {"user_tokens", b.user_tokens},
          {"reply_tokens", b.reply_tokens},
          {"think_time_s", b.think_time},
          {"temperature", b.temperature},
          {"ignore_eos", b.ignore_eos},
          {"max_duration_s", b.max_duration_s},
          {"max_requests", b.max_requests},
          {"request_timeout_s", b.request_timeout_s},
          {"pause_s", o.pause_s},
          {"ttft_p50_max_s", o.ttft_p50_max_s},
          {"tpot_p99_max_s", o.tpot_p99_max_s},
          {"max_error_share", o.max_error_share}};
}

}  // namespace

int RunBenchSweep(const BenchSweepOptions& o) {
  signal(SIGPIPE, SIG_IGN);  // a server that hangs up must not kill the load generator
  const BenchOptions& b = o.bench;
  auto fail = [](const std::string& msg) {
    std::fprintf(stderr, "error: %s\n", msg.c_str());
    return 1;
  };
  if (!o.users.empty() && !o.rates.empty()) return fail("give --users or --rates, not both");
  if (!o.url.empty() && (!b.url_a.empty() || !b.url_b.empty())) return fail("give --url, or --url-a and --url-b");
  if (b.url_a.empty() != b.url_b.empty()) return fail("--url-a and --url-b go together");
  const LoadKind kind = o.rates.empty() ? LoadKind::kUsers : LoadKind::kRate;
  auto points = PlanSweep(o, kind);
  if (!points.ok()) return fail(points.status().message());

  struct Target {
    std::string url, name, model;
  };
  std::vector<Target> targets;
  if (b.url_a.empty()) {
    targets.push_back({o.url.empty() ? "http://127.0.0.1:8080" : o.url, o.name.empty() ? "endpoint" : o.name, o.model});
  } else {
    targets.push_back({b.url_a, b.name_a.empty() ? "a" : b.name_a, b.model_a});
    targets.push_back({b.url_b, b.name_b.empty() ? "b" : b.name_b, b.model_b});
  }
  if (targets.size() == 2 && targets[0].name == targets[1].name) return fail("the two endpoints need different names");
  // The output folder first: a sweep can take an hour, and must not end unable to write.
  if (!b.out_dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(b.out_dir, ec);
    if (ec) return fail("cannot create " + b.out_dir + ": " + ec.message());
  }
  std::vector<Endpoint> endpoints;
  std::vector<SweepEndpoint> described;
  for (const Target& t : targets) {
    auto e = Prepare(t.url, t.model, b);
    if (!e.ok()) return fail(t.name + ": " + e.status().message());
    endpoints.push_back(*e);
    described.push_back({t.name, e->url, e->model});
  }

  SweepBounds bounds{o.ttft_p50_max_s, o.tpot_p99_max_s, o.max_error_share};
  nlohmann::json point_plans = nlohmann::json::array();
  for (const SweepPointPlan& p : *points) point_plans.push_back(WorkloadJson(p.options, p.plans));
  std::printf("sweep: %zu loads x %zu endpoint(s), %s; goodput bounds TTFT p50 <= %g s, TPOT p99 <= %g s\n",
              points->size(), endpoints.size(),
              targets.size() == 2 ? "point by point (A then B at each load)" : "one endpoint", o.ttft_p50_max_s,
              o.tpot_p99_max_s);
  std::fflush(stdout);
  SweepResult result = RunSweep(
      described, [&] {
        std::vector<double> loads;
        for (const auto& p : *points) loads.push_back(p.load);
        return loads;
      }(),
      kind, bounds,
      [&](size_t e, size_t i) {
        const SweepPointPlan& p = (*points)[i];
        if (e == 0) std::printf("\n== load %g: %s", p.load, WorkloadLine(point_plans[i]).c_str());
        std::fflush(stdout);
        Report r = RunOne(endpoints[e], described[e].name, p.plans, p.options);
        PointFigures f = FiguresOf(r, p.load, bounds);
        std::printf("[%s] %.2f req/s, TTFT p50 %.3f s, ITL p99 %.3f s, TPOT p99 %.3f s, %lld ok, %lld failed: %s\n",
                    described[e].name.c_str(), f.requests_per_s, f.ttft_p50_s, f.itl_p99_s, f.tpot_p99_s,
                    static_cast<long long>(f.ok), static_cast<long long>(f.failed),
                    f.met_bounds ? "met the bounds" : ("missed: " + f.missed).c_str());
        std::fflush(stdout);
        return r;
      },
      [&] { std::this_thread::sleep_for(std::chrono::duration<double>(o.pause_s)); });

  std::string summary = SweepText(result);
  std::printf("\n%s", summary.c_str());
  if (b.out_dir.empty()) return 0;
  nlohmann::json j = SweepJson(result);
  j["options"] = SweepOptionsJson(o, kind);
  j["point_workloads"] = point_plans;
  j["machine"] = MachineJson();
  j["tool"] = "parley bench sweep 0.1";
  std::string header;
  for (const auto& w : point_plans) header += WorkloadLine(w);
  std::ofstream(b.out_dir + "/sweep.json") << j.dump(2) << "\n";
  std::ofstream(b.out_dir + "/summary.txt") << header << "\n" << summary;
  std::printf("wrote %s/sweep.json and %s/summary.txt\n", b.out_dir.c_str(), b.out_dir.c_str());
  if (!b.no_plots) {
    const std::string png = b.out_dir + "/sweep.png";
    Status s = RunGnuplot(SweepPlotScript(result, png), b.out_dir + "/sweep.gp");
    if (s.ok()) {
      std::printf("wrote %s\n", png.c_str());
    } else {
      std::fprintf(stderr, "plot: %s\n", s.message().c_str());
    }
  }
  return 0;
}

}  // namespace parley
