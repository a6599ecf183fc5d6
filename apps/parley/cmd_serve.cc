// parley serve: loads a model, starts the engine and the OpenAI-compatible HTTP server,
// and serves until SIGINT/SIGTERM. Signals are blocked in every thread and taken by one
// watcher thread with sigwaitinfo(), which stops the server gracefully (in-flight streams get
// an error event, the process exits 0).
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <xxhash.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include "base/mapped_file.h"
#include "commands.h"
#include "engine/engine.h"
#include "engine/exact_scorer.h"
#include "engine/transformer_runner.h"
#include "gguf/gguf.h"
#include "kv/page_pool.h"
#include "model/config.h"
#include "server/http_server.h"
#include "tokenizer/chat_template.h"

namespace parley {
namespace {

// Waits for SIGINT/SIGTERM on its own thread. REQUIRES: those signals (and SIGUSR1, which
// ends the watcher) are blocked in every thread, i.e. BlockSignals() ran before any other
// thread was started.
class SignalWatcher {
 public:
  static void BlockSignals() {
    sigset_t set = Set();
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    signal(SIGPIPE, SIG_IGN);  // a client that hangs up must not kill the server
  }

  SignalWatcher() : thread_([this] { Loop(); }) {}
  ~SignalWatcher() { Finish(); }

  // Ends the watcher thread (after a stop it started has completed). Idempotent.
  void Finish() {
    if (!thread_.joinable()) return;
    pthread_kill(thread_.native_handle(), SIGUSR1);
    thread_.join();
  }

  // From now on a signal stops `server` (before: it ends the process). SIGTERM drains it:
  // streams in flight get up to `finish`, cached pages up to `flush` to reach the shared tier.
  void Attach(HttpServer* server, std::chrono::milliseconds finish, std::chrono::milliseconds flush) {
    finish_ = finish;
    flush_ = flush;
    server_.store(server);
  }

 private:
  static sigset_t Set() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGUSR1);
    return set;
  }

  void Loop() {
    sigset_t set = Set();
    bool stopped = false;
    for (;;) {
      siginfo_t info{};
      const int sig = sigwaitinfo(&set, &info);
      if (sig < 0 && errno == EINTR) continue;
      if (sig < 0 || sig == SIGUSR1) return;
      HttpServer* server = server_.load();
      if (server == nullptr) {
        std::fprintf(stderr, "\ninterrupted before the server started\n");
        std::_Exit(1);
      }
      if (stopped) continue;
      stopped = true;
      if (sig == SIGTERM && (finish_.count() > 0 || flush_.count() > 0)) {
        std::fprintf(stderr, "\nSIGTERM from pid %d: draining, then shutting down (/health answers 503; streams "
                     "in flight get %lld s to finish; cached pages go to the shared tier)\n",
                     static_cast<int>(info.si_pid), static_cast<long long>(finish_.count() / 1000));
        server->Drain(finish_, flush_);
      } else {
        std::fprintf(stderr, "\n%s from pid %d: shutting down (finishing in-flight requests with an "
                     "error)\n", sig == SIGINT ? "SIGINT" : "SIGTERM", static_cast<int>(info.si_pid));
        server->Stop();
      }
    }
  }

  std::atomic<HttpServer*> server_{nullptr};
  std::chrono::milliseconds finish_{0};  // set before server_ (whose store publishes them)
  std::chrono::milliseconds flush_{0};
  std::thread thread_;
};

// Names the model file and the numerics for the shared KV tier: replicas share pages only
// when their K/V would be the same bytes. The whole file is hashed (XXH3, about 10 GB/s from
// the page cache; it is mapped and read at load anyway), so two fine-tunes never collide.
uint64_t ModelFingerprint(const GgufFile& gguf, const ServeOptions& opts) {
  const std::string numerics = std::string(PARLEY_GIT_HASH) + "|" + opts.model.weights + "|" + opts.model.activations + "|" + opts.model.kv_dtype +
                               "|" + opts.kv_sharing + "|" + std::to_string(opts.model.exact);
  StatusOr<std::unique_ptr<MappedFile>> mapped = MappedFile::Open(gguf.path());
  const uint64_t seed = XXH3_64bits(numerics.data(), numerics.size());
  if (!mapped.ok()) return seed ^ gguf.file_size();
  return XXH3_64bits_withSeed((*mapped)->data(), (*mapped)->size(), seed);
}

std::string KiB(double bytes) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.2f KiB", bytes / 1024.0);
  return buf;
}

void PrintBanner(const ServeOptions& opts, const ServerOptions& server, const Model& model,
                 const ChatTemplate& tmpl, const Engine& engine, int32_t threads, int port) {
  const ModelConfig& c = model.config();
  const EngineOptions& e = engine.options();
  std::fprintf(stderr, "model: %s (%s, %d layers, vocab %d), chat template %s, %d threads\n",
               server.model_name.c_str(), c.arch_name.c_str(), c.num_layers, c.vocab_size,
               tmpl.name(), threads);
  std::fprintf(stderr, "numerics: %s\n", DescribeNumerics(opts.model).c_str());
  if (model.converted_weights()) {
    std::fprintf(stderr, "weights: %s (%.0f MiB; %s; %s products)\n", model.packed_weights() ? "packed" : "int8",
                 static_cast<double>(model.converted_bytes()) / (1 << 20),
                 opts.model.weights == "w8a8"     ? "W8A8 layer products, 16-bit activations for the head"
                 : opts.model.weights == "packed" ? "the file's codes and scales, 16-bit activations"
                                              : "16-bit activations for the norm-fed products and the head, W8A8 for "
                                                "the attention output",
                 Int8UsesAmx() ? "AMX tiles + AVX-512 VNNI" : Int8UsesVnni() ? "AVX-512 VNNI" : "AVX2/scalar");
  }
  StatusOr<KvLayout> layout = MakeKvLayout(c, opts.kv_sharing);
  std::fprintf(stderr, "KV: %s; %s, %d-token pages, %d MiB arena: %s per token at %d tokens of "
               "context (every layer in f32: %s)\n",
               layout.ok() ? layout->Describe().c_str() : "?", KvDtypeName(e.kv.dtype),
               e.kv.page_size, static_cast<int>(e.kv.arena_bytes >> 20),
               KiB(static_cast<double>(engine.KvBytesForContext(e.max_context)) / e.max_context).c_str(), e.max_context,
               KiB(static_cast<double>(engine.FullKvBytesForContext(e.max_context)) / e.max_context).c_str());
  std::fprintf(stderr, "sampling of requests that do not set it: temperature %g, top_k %d, top_p %g, min_p %g\n",
               server.sampling_defaults.temperature, server.sampling_defaults.top_k, server.sampling_defaults.top_p,
               server.sampling_defaults.min_p);
  std::fprintf(stderr, "engine: context %d, %d sequences at once, %d tokens per step, queue %d; %s\n",
               e.max_context, e.max_seqs, e.max_batch_tokens, e.max_queue,
               e.step_target_s > 0
                   ? ("stall-free steps: prefill paced to " + std::to_string(opts.itl_target_ms) + " ms while streams decode").c_str()
                   : "stall-free steps off");
  std::fprintf(stderr, "speculative decoding: %s%s\n", SpecModeName(e.spec),
               e.spec == SpecMode::kOff ? "" : (", up to " + std::to_string(e.spec_max_draft) + " drafted tokens per step").c_str());
  if (!e.prefix_cache) {
    std::fprintf(stderr, "prefix cache: off\n");
  } else {
    std::string tiers = "pool";
    if (e.prefix.host_bytes > 0) {
      tiers += ", host " + std::to_string(e.prefix.host_bytes >> 20) + " MiB (" + HostCodecName(e.prefix.host_codec) + ")";
    }
    if (!e.prefix.disk_dir.empty()) {
      tiers += ", disk " + std::to_string(e.prefix.disk_bytes >> 20) + " MiB under " + e.prefix.disk_dir;
    }
    std::fprintf(stderr, "prefix cache: %s; cache-aware admission over %d waiting, fairness bound %d steps\n",
                 tiers.c_str(), e.cache_aware_window, e.max_wait_steps);
  }
  const std::string url = "http://" + server.host + ":" + std::to_string(port);
  std::fprintf(stderr, "listening on %s (model name \"%s\"%s)\n", url.c_str(),
               server.model_name.c_str(), server.api_key.empty() ? "" : ", API key required");
  if (server.webui) std::fprintf(stderr, "chat page: %s/ (--no-webui turns it off)\n", url.c_str());
  std::fprintf(stderr,
               "try:\n  curl %s/v1/chat/completions -H 'Content-Type: application/json'%s \\\n"
               "    -d '{\"messages\": [{\"role\": \"user\", \"content\": \"Hello!\"}]}'\n",
               url.c_str(),
               server.api_key.empty() ? "" : " -H \"Authorization: Bearer $PARLEY_API_KEY\"");
}

}  // namespace

CLI::App* AddServeCommand(CLI::App* app, ServeOptions* opts) {
  CLI::App* serve_cmd = app->add_subcommand("serve", "serve the model over an OpenAI-compatible HTTP API");
  AddModelOptions(serve_cmd, &opts->model);
  serve_cmd->add_option("--max-batch-tokens", opts->model.batch_tokens, "tokens computed per engine step (same as -b)")
      ->check(CLI::Range(1, 1 << 16));
  serve_cmd->add_option("--host", opts->host, "address to listen on")
      ->capture_default_str();
  serve_cmd->add_option("--port", opts->port, "port to listen on (0: any free port)")->check(CLI::Range(0, 65535))
      ->capture_default_str();
  serve_cmd->add_option("--api-key", opts->api_key, "require Authorization: Bearer KEY (except /health, /metrics)")
      ->envname("PARLEY_API_KEY");
  serve_cmd->add_flag("--no-webui", opts->no_webui, "do not serve the chat page at / (404 instead)");
  serve_cmd->add_option("--model-name", opts->model_name, "model name for the API (default: the file name)");
  serve_cmd->add_option("--max-body-mb", opts->max_body_mb, "largest request body in MiB")->check(CLI::Range(1, 1024))
      ->capture_default_str();
  serve_cmd->add_option("--max-tokens-limit", opts->max_tokens_limit, "largest max_tokens a request may ask (default: the context size)")
      ->check(CLI::Range(1, 1 << 24));
  serve_cmd->add_option("--chat-template", opts->chat_template, "override the model's template: gemma or chatml")
      ->check(CLI::IsMember({"", "gemma", "chatml"}));
  serve_cmd->add_option("--max-seqs", opts->max_seqs, "sequences decoded at once")->check(CLI::Range(1, 4096))
      ->capture_default_str();
  serve_cmd->add_option("--max-queue", opts->max_queue, "waiting requests before 503")->check(CLI::Range(0, 1 << 20))
      ->capture_default_str();
  serve_cmd->add_option("--max-client-requests", opts->max_client_requests,
                        "generation requests one client address may have in flight; more get 429 (0: max(64, "
                        "2 x --max-seqs); -1: no cap)")
      ->check(CLI::Range(-1, 1 << 20))
      ->capture_default_str();
  serve_cmd->add_option("--write-timeout", opts->write_timeout_s,
                        "seconds a response write may make no progress before the client counts as gone and "
                        "its request is cancelled (a stalled stream reader)")
      ->check(CLI::Range(1, 3600))
      ->capture_default_str();
  serve_cmd->add_option("--kv-cache-mb", opts->kv_cache_mb,
                        "KV cache arena in MiB (0: room for --max-seqs sequences of the full context, at most "
                        "a quarter of RAM; only pages in use become resident)")
      ->check(CLI::Range(0, 1 << 20))
      ->capture_default_str();
  serve_cmd->add_option("--page-size", opts->page_size, "tokens per KV page")->check(CLI::Range(1, 4096))
      ->capture_default_str();
  serve_cmd->add_option("--kv-sharing", opts->kv_sharing, "cross-layer KV sharing \"L:O,...\" (layer L reads layer O's K/V)");
  serve_cmd->add_flag("--no-prefix-cache", opts->no_prefix_cache,
                      "forget every sequence's KV when it ends (no reuse between requests)");
  serve_cmd->add_option("--host-cache-mb", opts->host_cache_mb,
                        "host-memory tier for KV pages evicted from the pool, in MiB (0: evicted pages are dropped)")
      ->check(CLI::Range(0, 1 << 24))
      ->capture_default_str();
  serve_cmd->add_option("--host-cache-codec", opts->host_cache_codec,
                        "how the host tier stores pages: raw (lossless), zstd (lossless, compressed), int8 (lossy, ~4x smaller)")
      ->check(CLI::IsMember({"raw", "zstd", "int8"}))
      ->capture_default_str();
  serve_cmd->add_option("--disk-cache-dir", opts->disk_cache_dir,
                        "disk tier below the host tier: pages it has no room for move to files in a folder of "
                        "this process's under DIR (removed at exit; none by default)");
  serve_cmd->add_option("--disk-cache-mb", opts->disk_cache_mb, "disk tier budget in MiB")
      ->check(CLI::Range(1, 1 << 30))
      ->capture_default_str();
  serve_cmd->add_option("--cache-aware-window", opts->cache_aware_window,
                        "admission looks at this many waiting requests and takes the one with the longest cached "
                        "prefix (1: first come, first served)")
      ->check(CLI::Range(1, 1 << 20))
      ->capture_default_str();
  serve_cmd->add_option("--max-wait-steps", opts->max_wait_steps,
                        "fairness bound: once the oldest waiting request has waited this many engine steps, it "
                        "goes next")
      ->check(CLI::Range(0, 1 << 30))
      ->capture_default_str();
  serve_cmd->add_option("--itl-target-ms", opts->itl_target_ms,
                        "stall-free steps: while streams decode, a step takes prompt tokens only while its "
                        "predicted time (a cost model learned online) stays within this, and new conversations "
                        "wait rather than push a decode step past it (0: off, steps take --max-batch-tokens)")
      ->check(CLI::Range(0, 60000))
      ->capture_default_str();
  serve_cmd->add_option("--spec", opts->spec,
                        "speculative decoding: each decoding stream drafts tokens and verifies them in its next "
                        "step (the output is exactly the one without it): 'ngram' drafts from the request's "
                        "prediction, the conversation so far and an n-gram pool shared by all streams; "
                        "'prediction' only from requests' predictions (OpenAI Predicted Outputs); 'off'")
      ->check(CLI::IsMember({"off", "ngram", "prediction"}))
      ->capture_default_str();
  serve_cmd->add_option("--spec-max-draft", opts->spec_max_draft,
                        "speculative decoding: tokens drafted per stream per step at most (fewer when the "
                        "stream's drafts are often rejected or the batch is compute-bound)")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  serve_cmd->add_option("--temp", opts->default_temperature,
                        "temperature of requests that do not set one (OpenAI's default is 1; this is llama-server's)")
      ->check(CLI::Range(0.0, 100.0))
      ->capture_default_str();
  serve_cmd->add_option("--top-k", opts->default_top_k, "top_k of requests that do not set one (0: no limit)")
      ->check(CLI::Range(0, 1 << 30))
      ->capture_default_str();
  serve_cmd->add_option("--top-p", opts->default_top_p, "top_p of requests that do not set one")
      ->check(CLI::Range(0.001, 1.0))
      ->capture_default_str();
  serve_cmd->add_option("--min-p", opts->default_min_p, "min_p of requests that do not set one (0: off)")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  serve_cmd->add_option("--canary-rate", opts->canary_rate,
                        "quality canary: this share of requests is re-scored in idle steps by the exact path (GGUF "
                        "weights, f32 activations, f32 KV), reported as parley_canary_* in /metrics (0: off; "
                        "default 0.02, or 0 with --exact)")
      ->check(CLI::Range(0.0, 1.0));
  serve_cmd->add_option("--redis-url", opts->redis_url,
                        "shared KV tier below the host and disk tiers, on Redis: redis://HOST:PORT[/DB]. Replicas "
                        "of the same model and options share cached pages (docs/fleet.md); run Redis with "
                        "maxmemory and maxmemory-policy allkeys-lru. Redis down: local tiers only, retried");
  serve_cmd->add_option("--redis-ttl", opts->redis_ttl_s,
                        "seconds a page stays in Redis after it is written (0: no expiry; maxmemory's LRU decides)")
      ->check(CLI::Range(0, 1 << 30))
      ->capture_default_str();
  serve_cmd->add_option("--redis-timeout-ms", opts->redis_timeout_ms, "Redis connect and command timeout")
      ->check(CLI::Range(1, 60000))
      ->capture_default_str();
  serve_cmd->add_option("--redis-wait-ms", opts->redis_wait_ms,
                        "longest a request the local tiers miss waits for its Redis lookup before it is admitted "
                        "without it")
      ->check(CLI::Range(0, 60000))
      ->capture_default_str();
  serve_cmd->add_option("--drain-timeout", opts->drain_timeout_s,
                        "SIGTERM drains: /health answers 503 at once, streams in flight get this many seconds to "
                        "finish, cached pages are published to Redis, then the process exits 0 (0: streams end "
                        "at once with an error event)")
      ->check(CLI::Range(0, 3600))
      ->capture_default_str();
  serve_cmd->add_flag("--check-integrity", opts->check_integrity,
                      "check the scheduler, KV pages and prefix cache after every engine step and at shutdown; "
                      "a failure aborts the server (for tests and scripts/soak.sh; costs a walk of the prefix "
                      "tree per step; passed checks: parley_kv_integrity_checks_total in /metrics)");
  return serve_cmd;
}

// glibc gives each thread that allocates an arena of its own, up to 8 per core; the HTTP
// pool's 64+ threads each serve requests of every size, so every arena grows to the largest
// mix it has seen, and RSS crept up for minutes under a steady load (the soak measured +30%
// in two minutes after warm-up with the default, +6.6% with one arena). Two arenas keep
// memory flat at no measurable cost: the engine thread allocates little per step. An
// explicit MALLOC_ARENA_MAX in the environment wins.
void LimitMallocArenas() {
  if (std::getenv("MALLOC_ARENA_MAX") == nullptr) mallopt(M_ARENA_MAX, 2);
}

int RunServe(const ServeOptions& opts) {
  LimitMallocArenas();
  SignalWatcher::BlockSignals();
  SignalWatcher watcher;

  const std::string path =
      opts.model.model_path.empty() ? DefaultModelPath() : opts.model.model_path;
  StatusOr<LoadedModel> loaded = LoadModelWithProgress(path, opts.model);
  if (!loaded.ok()) {
    std::fprintf(stderr, "error: %s\n", loaded.status().message().c_str());
    return 1;
  }
  StatusOr<ChatTemplate> tmpl = ChatTemplate::FromGguf(loaded->model->gguf(), opts.chat_template);
  if (!tmpl.ok()) {
    std::fprintf(stderr, "error: %s\n", tmpl.status().message().c_str());
    return 1;
  }
  StatusOr<KvDtype> dtype = ParseKvDtype(opts.model.kv_dtype);
  if (!dtype.ok()) {
    std::fprintf(stderr, "error: --kv-dtype: %s\n", dtype.status().message().c_str());
    return 1;
  }
  if (std::string warning = tmpl->FallbackWarning(path); !warning.empty()) {
    std::fprintf(stderr, "%s\n", warning.c_str());
  }

  const int32_t threads = ResolveThreads(opts.model.threads);
  TransformerRunner runner(*loaded->model, threads, ParseActivationMode(opts.model.activations));
  EngineOptions eo;
  eo.max_batch_tokens = opts.model.batch_tokens;
  eo.max_seqs = opts.max_seqs;
  eo.max_queue = opts.max_queue;
  eo.max_context = opts.model.ctx_size;
  eo.kv.arena_bytes = static_cast<int64_t>(opts.kv_cache_mb) << 20;
  eo.kv.page_size = opts.page_size;
  eo.kv.dtype = *dtype;
  eo.kv.max_context = opts.model.ctx_size;
  eo.kv_sharing = opts.kv_sharing;
  eo.prefix_cache = !opts.no_prefix_cache;
  eo.prefix.host_bytes = static_cast<int64_t>(opts.host_cache_mb) << 20;
  eo.prefix.host_codec = *ParseHostCodec(opts.host_cache_codec);
  eo.prefix.disk_dir = opts.disk_cache_dir;
  eo.prefix.disk_bytes = static_cast<int64_t>(opts.disk_cache_mb) << 20;
  eo.cache_aware_window = opts.cache_aware_window;
  eo.max_wait_steps = opts.max_wait_steps;
  eo.step_target_s = opts.itl_target_ms / 1000.0;
  eo.check_integrity = opts.check_integrity;
  eo.spec = *ParseSpecMode(opts.spec);
  eo.spec_max_draft = opts.spec_max_draft;
  Metrics metrics;
  // The exact path compared with itself reads 0: no canary with --exact unless asked for.
  const double canary_rate = opts.canary_rate >= 0 ? opts.canary_rate : opts.model.exact ? 0.0 : 0.02;
  std::unique_ptr<QualityCanary> canary;  // outlives the engine
  if (canary_rate > 0) {
    StatusOr<std::unique_ptr<QualityCanary>> c =
        CreateExactCanary(*loaded->model, runner.pool(), eo.max_context, canary_rate, &metrics);
    if (!c.ok()) {
      std::fprintf(stderr, "error: --canary-rate: %s\n", c.status().message().c_str());
      return 1;
    }
    canary = std::move(c).value();
    eo.canary = canary.get();
  }
  if (!opts.redis_url.empty()) {
    eo.remote.url = opts.redis_url;
    eo.remote.ttl_s = opts.redis_ttl_s;
    eo.remote.timeout_ms = opts.redis_timeout_ms;
    eo.remote_wait_ms = opts.redis_wait_ms;
    eo.remote_fingerprint = ModelFingerprint(loaded->model->gguf(), opts);
  }
  StatusOr<std::unique_ptr<Engine>> engine =
      Engine::Create(&runner, *loaded->tokenizer, eo);
  if (!engine.ok()) {
    std::fprintf(stderr, "error: %s\n", engine.status().message().c_str());
    return 1;
  }

  ServerOptions so;
  so.host = opts.host;
  so.port = opts.port;
  so.api_key = opts.api_key;
  so.webui = !opts.no_webui;
  so.model_name = opts.model_name.empty() ? std::filesystem::path(path).stem().string()
                                          : opts.model_name;
  so.max_body_bytes = static_cast<int64_t>(opts.max_body_mb) << 20;
  so.max_tokens_limit = opts.max_tokens_limit;
  so.max_client_requests = opts.max_client_requests;
  so.write_timeout_s = opts.write_timeout_s;
  so.sampling_defaults.temperature = opts.default_temperature;
  so.sampling_defaults.top_k = opts.default_top_k;
  so.sampling_defaults.top_p = opts.default_top_p;
  so.sampling_defaults.min_p = opts.default_min_p;
  so.system_fingerprint = std::string("parley-") + PARLEY_GIT_HASH + "-" + opts.model.weights + "-" +
                          opts.model.activations + "-" + KvDtypeName(eo.kv.dtype);
  HttpServer server(so, engine->get(), *loaded->tokenizer, *tmpl, &metrics);
  if (Status st = server.Bind(); !st.ok()) {
    std::fprintf(stderr, "error: %s\n", st.message().c_str());
    return 1;
  }
  PrintBanner(opts, so, *loaded->model, *tmpl, **engine, threads, server.port());
  if (eo.check_integrity) {
    std::fprintf(stderr, "integrity checks: after every step and at shutdown (--check-integrity)\n");
  }
  if (canary != nullptr) {
    std::fprintf(stderr, "quality canary: %g%% of requests re-scored by the exact path in idle steps "
                 "(parley_canary_* in /metrics)\n", 100 * canary_rate);
  }
  if (!opts.redis_url.empty()) {
    std::fprintf(stderr, "shared KV tier: %s (fingerprint of model, numerics and KV layout; TTL %s; lookups wait "
                 "up to %d ms)\n", opts.redis_url.c_str(),
                 opts.redis_ttl_s > 0 ? (std::to_string(opts.redis_ttl_s) + " s").c_str() : "none",
                 opts.redis_wait_ms);
  }
  // The flush gets a bounded time of its own: a slow Redis must not hold the exit up.
  watcher.Attach(&server, std::chrono::seconds(opts.drain_timeout_s),
                 std::chrono::milliseconds(opts.redis_url.empty() ? 0 : 5000));
  Status served = server.Serve();
  watcher.Finish();
  server.Stop(std::chrono::milliseconds(0));
  if (!served.ok()) {
    std::fprintf(stderr, "error: %s\n", served.message().c_str());
    return 1;
  }
  std::fprintf(stderr, "parley serve: stopped\n");
  return 0;
}

}  // namespace parley
