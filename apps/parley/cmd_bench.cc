// parley bench: replays multi-turn conversations against one OpenAI-compatible endpoint, or
// (`parley bench compare`) the same workload against two, one after the other, and prints the
// ratios. Writes report.json, summary.txt, requests.jsonl (one line per request) and PNG
// plots into --out.
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include "commands.h"
#include "loadgen/client.h"
#include "loadgen/plots.h"
#include "loadgen/report.h"
#include "loadgen/runner.h"
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

void AddWorkloadOptions(CLI::App* cmd, BenchOptions* o) {
  cmd->option_defaults()->always_capture_default();
  const char* dist_help = " (N, uniform:A:B, normal:M:S, lognormal:M:S, exp:M; then ,min=X ,max=Y)";
  cmd->add_option("-n,--conversations", o->conversations, "conversations to replay")->check(CLI::Range(1, 1000000));
  cmd->add_option("--turns", o->turns, "turns per conversation (with --dataset: at most this many; 0 = all)")
      ->check(CLI::Range(0, 100000));
  cmd->add_option("--users", o->users, "closed loop: concurrent users, each playing one conversation after another")
      ->check(CLI::Range(1, 4096));
  cmd->add_option("--rate", o->rate, "open loop instead: new conversations per second (Poisson arrivals)")
      ->check(CLI::Range(0.0, 1e6));
  cmd->add_flag("--interleave", o->interleave,
                "closed loop: each user keeps its share of the conversations open at once and sends a turn of each "
                "in rotation (many open chats), instead of playing them one after another");
  cmd->add_option("--persona-tokens", o->persona_tokens, std::string("system prompt length") + dist_help)
      ->check(DistributionSpec());
  cmd->add_option("--user-tokens", o->user_tokens, std::string("user message length") + dist_help)
      ->check(DistributionSpec());
  cmd->add_option("--reply-tokens", o->reply_tokens, std::string("reply budget, max_tokens") + dist_help)
      ->check(DistributionSpec());
  cmd->add_option("--think-time", o->think_time, std::string("seconds between a reply and the next message") + dist_help)
      ->check(DistributionSpec());
  cmd->add_option("--dataset", o->dataset, "replay conversations from a ShareGPT-style JSON file instead")
      ->check(CLI::ExistingFile);
  cmd->add_option("--seed", o->seed, "workload and sampling seed");
  cmd->add_option("--temperature", o->temperature, "sampling temperature of every request")->check(CLI::Range(0.0, 2.0));
  cmd->add_flag("--ignore-eos", o->ignore_eos, "send ignore_eos (llama-server extension) so replies fill their budget");
  cmd->add_option("--max-duration", o->max_duration_s, "stop after this many seconds per endpoint")
      ->check(CLI::Range(0.1, 1e7));
  cmd->add_option("--max-requests", o->max_requests, "stop after this many requests per endpoint (0 = all)")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 40));
  cmd->add_option("--request-timeout", o->request_timeout_s, "seconds before one request counts as timed out")
      ->check(CLI::Range(0.1, 1e6));
  cmd->add_option("--wait-ready", o->wait_ready_s, "seconds to wait for an endpoint to answer /v1/models")
      ->check(CLI::Range(0.0, 1e5));
  cmd->add_option("--api-key", o->api_key, "bearer token for the endpoints");
  cmd->add_flag("--allow-remote", o->allow_remote, "allow endpoints that are not on this machine");
  cmd->add_option("-o,--out", o->out_dir, "directory for report.json, summary.txt and the plots");
  cmd->add_flag("--no-plots", o->no_plots, "skip the PNG plots");
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
    report["endpoints"] = {ReportJson(ra)};
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

}  // namespace parley
