// The parley subcommands. Each returns the process exit code; none throws or exits.
#pragma once

#include <string>
#include <vector>

#include "common.h"

namespace parley {

struct RunOptions {
  ModelOptions model;
  SamplingParams sampling;
  std::string prompt;
  int32_t max_tokens = 128;
  bool ignore_eos = false;
  bool no_special = false;   // treat control-token text in the prompt as plain text
  std::vector<std::string> stop;  // stop strings: generation ends before them
  int32_t logprobs = -1;          // -1: none; n >= 0: each token's logprob and top n, to stderr
};
int RunRun(const RunOptions& opts);

struct ChatOptions {
  ModelOptions model;
  SamplingParams sampling;
  std::string system;
  std::string chat_template;  // "" = from the model file
  int32_t max_tokens = 512;
};
int RunChat(const ChatOptions& opts);

struct ServeOptions {
  ModelOptions model;
  std::string host = "127.0.0.1";
  int port = 8080;
  std::string api_key;        // also PARLEY_API_KEY
  bool no_webui = false;      // no chat page at "/"
  std::string model_name;     // "" = the file name without .gguf
  int max_body_mb = 8;
  int max_tokens_limit = 0;   // 0 = the context size
  std::string chat_template;  // "" = from the model file
  int max_seqs = 16;
  int max_queue = 256;
  int max_client_requests = 0;  // 0: max(64, 2 * max_seqs); -1: no cap
  int write_timeout_s = 30;
  int kv_cache_mb = 0;  // 0: automatic (Engine: max_seqs full-context sequences, <= RAM / 4)
  int page_size = 16;
  std::string kv_sharing;     // "L:O,..."
  bool no_prefix_cache = false;
  int host_cache_mb = 0;
  std::string host_cache_codec = "raw";
  std::string disk_cache_dir;  // "": no disk tier
  int disk_cache_mb = 4096;
  int cache_aware_window = 16;
  int max_wait_steps = 32;
  int itl_target_ms = 100;    // stall-free steps: target step time while streams decode; 0: off
  std::string spec = "ngram";  // speculative decoding: off | ngram | prediction
  int spec_max_draft = 8;      // drafted tokens per sequence per step at most
  // Sampling for requests that omit temperature / top_p / top_k / min_p: llama-server's
  // defaults (a small model's replies at OpenAI's temperature 1 with no cut wander).
  float default_temperature = 0.8f;
  int default_top_k = 40;
  float default_top_p = 0.95f;
  float default_min_p = 0.05f;
  double canary_rate = -1;  // share of requests re-scored by the exact path; -1: 0.02, or 0 with --exact
  // The fleet (docs/fleet.md): the shared KV tier on Redis and the drain on SIGTERM.
  std::string redis_url;        // "" = no shared tier
  int redis_ttl_s = 0;          // 0: pages never expire (Redis's maxmemory LRU decides)
  int redis_timeout_ms = 100;
  int redis_wait_ms = 100;      // longest an admission waits for its lookup
  int drain_timeout_s = 0;      // SIGTERM: streams in flight may run this long (0: end them at once)

  bool check_integrity = false;  // EngineOptions::check_integrity (tests, the soak)
};
// Adds the `serve` subcommand and its options to `app`.
CLI::App* AddServeCommand(CLI::App* app, ServeOptions* opts);
int RunServe(const ServeOptions& opts);

// parley bench / parley bench compare (cmd_bench.cc). Distributions are strings parsed by
// loadgen::Distribution.
struct BenchOptions {
  std::string url_a = "http://127.0.0.1:8080", url_b;
  std::string name_a, name_b;    // "" = endpoint / a / b
  std::string model_a, model_b;  // "" = the endpoint's first listed model
  int32_t conversations = 32;
  int32_t turns = 12;
  int32_t users = 8;
  double rate = 0;
  bool interleave = false;
  std::string persona_tokens = "normal:800:100,min=300,max=1500";
  int characters = 0;  // > 0: personas drawn from this many shared characters
  std::string user_tokens = "normal:40:10,min=5";
  std::string reply_tokens = "96";
  std::string think_time = "exp:1";
  std::string dataset;
  uint64_t seed = 1;
  double temperature = 0.7;
  bool ignore_eos = false;
  double max_duration_s = 3600;
  int64_t max_requests = 0;
  double request_timeout_s = 600;
  double wait_ready_s = 30;
  std::string api_key;
  bool allow_remote = false;
  std::string out_dir = "bench-results";
  bool no_plots = false;
  bool quiet = false;
};
void AddBenchCommand(CLI::App* app, BenchOptions* bench, BenchOptions* compare, CLI::App** bench_cmd,
                     CLI::App** compare_cmd);
int RunBench(const BenchOptions& opts, bool compare);

// parley bench sweep (cmd_bench.cc): the bench workload at rising load against one or two
// endpoints, each load point its own run, and the goodput under latency bounds.
struct BenchSweepOptions {
  BenchOptions bench;              // workload and run bounds; users, rate, conversations and seed are set per point
  std::string url, name, model;    // one endpoint, or two with --url-a/--url-b (bench.url_a, bench.url_b)
  std::string users, rates;        // rising comma lists; neither given: users 1,2,4,8,16
  int32_t conversations = 0;       // per point; 0: 2 x users, or for rates a minute of arrivals (at least 2)
  int64_t seed = -1;               // -1: each point's user count (rates: its position from 1); S: S + position from 0
  double ttft_p50_max_s = 1.0, tpot_p99_max_s = 0.2, max_error_share = 0;
  double pause_s = 2;              // between runs, while the last run's cancelled requests drain
  BenchSweepOptions() {
    bench.url_a.clear();
    bench.max_duration_s = 300;
    bench.out_dir = "bench-sweep";
  }
};
CLI::App* AddBenchSweepCommand(CLI::App* bench_cmd, BenchSweepOptions* opts);
int RunBenchSweep(const BenchSweepOptions& opts);

struct PerplexityOptions {
  ModelOptions model;
  std::string text_file;
  int32_t max_chunks = 0;
};
CLI::App* AddPerplexityCommand(CLI::App* app, PerplexityOptions* opts);
int RunPerplexity(const PerplexityOptions& opts);

struct BenchModelOptions {
  ModelOptions model;
  std::string prompt = "512", gen = "128", depth = "0", streams = "1";
  int32_t reps = 3;
};
CLI::App* AddBenchModelCommand(CLI::App* app, BenchModelOptions* opts);
int RunBenchModel(const BenchModelOptions& opts);

struct InspectOptions {
  std::string path;
};
int RunInspect(const InspectOptions& opts);

}  // namespace parley
