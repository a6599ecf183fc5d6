// parley bench-model: forward-pass speed as llama-bench measures it, so the two tables
// compare line by line: pp<P> (P prompt tokens computed in batches of -b, tokens/s), tg<N>
// (N tokens decoded one step at a time), each optionally after -d tokens already in the
// context (llama-bench -d), and tg<N> x<S> (S sequences decoding together in one ragged
// batch per step: aggregate tokens/s, the batch scaling). Random token ids, the mean and
// standard deviation over -r repetitions.
// The work runs as engine requests (Generator::Submit: greedy, EOS ignored, S running
// together); only the timing is this file's. pp: a prompt of P new tokens (after the -d
// tokens, computed by a request before and resumed from the prefix cache, whole pages of
// them: a depth that is not a multiple of the page size recomputes its last partial page
// in the timed request), timed from submit to its one sampled token. tg: S requests with
// prompts of max(d, 1) tokens; from the moment every stream has its first token, the time
// one of the streams that started last takes for N more (N steps of all S streams; the
// others were given spare tokens so none ends early), then all are cancelled.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <random>
#include <sstream>

#include "base/check.h"
#include "commands.h"
#include "generator.h"
#include "kernels/cpu.h"
#include "kernels/int8_matmul.h"

namespace parley {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

std::vector<int32_t> ParseList(const std::string& s) {
  std::vector<int32_t> out;
  std::stringstream in(s);
  std::string item;
  while (std::getline(in, item, ',')) {
    if (!item.empty()) out.push_back(std::stoi(item));
  }
  return out;
}

struct Setup {
  Generator* gen;
  int32_t vocab;
  int32_t batch;
};

// Spare tokens per tg stream: steps a stream may lead the last one by (prefills spread
// over steps of -b tokens, plus a few for the requests' arrival).
int32_t Spare(int32_t streams, int32_t prompt, int32_t batch) { return streams * prompt / batch + 8; }

std::vector<int32_t> Random(int32_t n, int32_t vocab, std::mt19937* rng) {
  std::vector<int32_t> t(n);
  for (int32_t& x : t) x = static_cast<int32_t>((*rng)() % vocab);
  return t;
}

std::shared_ptr<RequestStream> Submit(const Setup& s, std::vector<int32_t> prompt, int32_t max_tokens) {
  GenerationRequest r;
  r.prompt = std::move(prompt);
  r.max_tokens = max_tokens;
  r.ignore_eos = true;  // greedy: SamplingParams' default
  StatusOr<std::shared_ptr<RequestStream>> stream = s.gen->Submit(std::move(r));
  PARLEY_CHECK(stream.ok()) << stream.status().message();
  return *stream;
}

EngineEvent Next(RequestStream* stream) {
  for (;;) {
    std::optional<EngineEvent> ev = stream->Next(100ms);
    if (!ev) continue;
    PARLEY_CHECK(ev->finish != FinishReason::kError) << ev->error;
    return std::move(*ev);
  }
}

EngineEvent Last(RequestStream* stream) {
  for (;;) {
    EngineEvent ev = Next(stream);
    if (ev.finish != FinishReason::kNone) return ev;
  }
}

// pp: `n` new prompt tokens after `depth` cached ones; seconds.
double TimePrompt(const Setup& s, int32_t depth, int32_t n, std::mt19937* rng) {
  std::vector<int32_t> prompt = Random(depth, s.vocab, rng);
  if (depth > 0) Last(Submit(s, prompt, 0).get());  // leaves its pages in the prefix cache
  const std::vector<int32_t> more = Random(n, s.vocab, rng);
  prompt.insert(prompt.end(), more.begin(), more.end());
  const auto t0 = Clock::now();
  Last(Submit(s, std::move(prompt), 1).get());
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// A tg stream and what has come of it so far.
struct Tracked {
  std::shared_ptr<RequestStream> stream;
  int32_t tokens = 0;
  bool ended = false;
  Clock::time_point first, end;  // once ended: the engine's first-token stamp, and now
  void Take(const EngineEvent& ev) {
    tokens += static_cast<int32_t>(ev.tokens.size());
    ended = ev.finish != FinishReason::kNone;
    if (!ended) return;
    end = Clock::now();
    first = stream->created() + std::chrono::duration_cast<Clock::duration>(
                                    std::chrono::duration<double>(ev.ttft_seconds));
  }
};

// tg: `n` steps of `streams` sequences decoding together after `depth` tokens; seconds.
// A model so small that the engine ends the streams before this thread has looked (the
// tiny test models) is timed from the engine's first-token stamp to the end instead, per
// token (the figure then errs low by this thread's lateness).
double TimeDecode(const Setup& s, int32_t streams, int32_t depth, int32_t n, std::mt19937* rng) {
  const int32_t prompt = std::max(depth, 1);
  std::vector<Tracked> ts(streams);
  for (Tracked& t : ts) t.stream = Submit(s, Random(prompt, s.vocab, rng), n + 1 + Spare(streams, prompt, s.batch));
  for (Tracked& t : ts) t.Take(Next(t.stream.get()));
  const auto t0 = Clock::now();  // every prompt is computed: all streams decode from here
  for (Tracked& t : ts) {
    while (!t.ended) {
      std::optional<EngineEvent> ev = t.stream->Next(0ms);
      if (!ev) break;
      t.Take(*ev);
    }
  }
  Tracked& last = *std::min_element(ts.begin(), ts.end(),
                                    [](const Tracked& a, const Tracked& b) { return a.tokens < b.tokens; });
  const int32_t until = last.tokens + n;
  while (last.tokens < until && !last.ended) last.Take(Next(last.stream.get()));
  double sec = std::chrono::duration<double>(Clock::now() - t0).count();
  if (last.tokens < until && last.tokens > 1) {
    sec = std::chrono::duration<double>(last.end - last.first).count() * n / (last.tokens - 1);
  }
  for (Tracked& t : ts) {
    t.stream->Cancel();
    if (!t.ended) Last(t.stream.get());
  }
  return sec;
}

struct Result {
  double mean = 0, sd = 0;
};

// One test, `reps` times: `streams` sequences, `depth` tokens first (untimed), then `n`
// tokens (prompt tokens for pp, decoded for tg). Tokens/s over all streams.
Result Run(const Setup& s, bool pp, int32_t streams, int32_t depth, int32_t n, int32_t reps) {
  std::vector<double> rates;
  std::mt19937 rng(1234);
  for (int32_t r = 0; r < reps; ++r) {
    const double sec = pp ? TimePrompt(s, depth, n, &rng) : TimeDecode(s, streams, depth, n, &rng);
    rates.push_back(static_cast<double>(n) * streams / sec);
  }
  Result res;
  for (double x : rates) res.mean += x / rates.size();
  for (double x : rates) res.sd += (x - res.mean) * (x - res.mean);
  res.sd = rates.size() > 1 ? std::sqrt(res.sd / (rates.size() - 1)) : 0.0;
  return res;
}

}  // namespace

CLI::App* AddBenchModelCommand(CLI::App* app, BenchModelOptions* opts) {
  CLI::App* cmd = app->add_subcommand("bench-model", "forward-pass speed, as llama-bench reports it (pp / tg tokens/s)");
  AddModelOptions(cmd, &opts->model);
  cmd->add_option("-p,--n-prompt", opts->prompt, "prompt lengths to time, comma-separated (0: none)")
      ->capture_default_str();
  cmd->add_option("-n,--n-gen", opts->gen, "generated lengths to time, comma-separated (0: none)")
      ->capture_default_str();
  cmd->add_option("-d,--n-depth", opts->depth, "tokens already in the context, comma-separated")
      ->capture_default_str();
  cmd->add_option("-s,--streams", opts->streams, "sequences decoding together for tg, comma-separated")
      ->capture_default_str();
  cmd->add_option("-r,--repetitions", opts->reps, "repetitions of each test")->check(CLI::Range(1, 100))
      ->capture_default_str();
  return cmd;
}

int RunBenchModel(const BenchModelOptions& opts) {
  const std::string path = opts.model.model_path.empty() ? DefaultModelPath() : opts.model.model_path;
  auto loaded = LoadModelWithProgress(path, opts.model);
  if (!loaded.ok()) {
    std::fprintf(stderr, "error: %s\n", loaded.status().message().c_str());
    return 1;
  }
  std::vector<int32_t> prompts, gens, depths, streams;
  try {
    prompts = ParseList(opts.prompt);
    gens = ParseList(opts.gen);
    depths = ParseList(opts.depth);
    streams = ParseList(opts.streams);
  } catch (const std::exception&) {
    std::fprintf(stderr, "error: -p, -n, -d and -s take comma-separated integers\n");
    return 1;
  }
  if (depths.empty()) depths = {0};
  if (streams.empty()) streams = {1};
  for (const auto* list : {&prompts, &gens, &depths, &streams}) {
    for (int32_t v : *list) {
      if (v < 0 || v > (1 << 20)) {
        std::fprintf(stderr, "error: a length out of range: %d\n", v);
        return 1;
      }
    }
  }
  StatusOr<GeneratorOptions> go = GeneratorOptionsFrom(opts.model);
  if (!go.ok()) {
    std::fprintf(stderr, "error: %s\n", go.status().message().c_str());
    return 1;
  }
  const Model& model = *loaded->model;
  const int32_t batch = std::max(1, opts.model.batch_tokens);
  // One engine for every test: as many sequences as the most streams, a context for the
  // longest test, the prefix cache on (pp resumes after its depth).
  int32_t max_streams = 1, context = 2;
  for (int32_t d : depths) {
    for (int32_t p : prompts) context = std::max(context, d + p + 1);
    for (int32_t n : gens) {
      for (int32_t k : streams) {
        if (n <= 0 || k <= 0) continue;
        max_streams = std::max(max_streams, k);
        context = std::max(context, std::max(d, 1) + n + 1 + Spare(k, std::max(d, 1), batch));
      }
    }
  }
  go->context = context;
  go->batch_tokens = batch;
  go->max_seqs = max_streams;
  go->prefix_cache = true;
  auto gen = Generator::Create(model, *loaded->tokenizer, *go);
  if (!gen.ok()) {
    std::fprintf(stderr, "error: %s\n", gen.status().message().c_str());
    return 1;
  }
  const int32_t threads = go->threads;
  Setup s{gen->get(), model.config().vocab_size, batch};
  const std::string name = std::filesystem::path(path).filename().string();
  const double mib = static_cast<double>(std::filesystem::file_size(path)) / (1 << 20);
  std::string kernels = SimdLevelName(ActiveSimdLevel());
  if (model.packed_weights()) kernels += Int8UsesVnni() ? " + VNNI packed" : " packed";
  else if (model.converted_weights()) kernels += Int8UsesAmx() ? " + AMX/VNNI int8" : Int8UsesVnni() ? " + VNNI int8" : " int8";
  std::printf("| model | size | threads | weights | act | kv | kernels | test | t/s |\n");
  std::printf("| --- | ---: | ---: | --- | --- | --- | --- | --- | ---: |\n");
  auto row = [&](const std::string& test, const Result& r) {
    std::printf("| %s | %.0f MiB | %d | %s | %s | %s | %s | %s | %.2f ± %.2f |\n", name.c_str(), mib, threads,
                opts.model.weights.c_str(), opts.model.activations.c_str(), opts.model.kv_dtype.c_str(), kernels.c_str(),
                test.c_str(), r.mean, r.sd);
    std::fflush(stdout);
  };
  for (int32_t d : depths) {
    const std::string at = d > 0 ? " @ d" + std::to_string(d) : "";
    for (int32_t p : prompts) {
      if (p > 0) row("pp" + std::to_string(p) + at, Run(s, /*pp=*/true, 1, d, p, opts.reps));
    }
    for (int32_t n : gens) {
      if (n <= 0) continue;
      for (int32_t k : streams) {
        if (k <= 0) continue;
        row("tg" + std::to_string(n) + (k > 1 ? " x" + std::to_string(k) : "") + at,
            Run(s, /*pp=*/false, k, d, n, opts.reps));
      }
    }
  }
  return 0;
}

}  // namespace parley
