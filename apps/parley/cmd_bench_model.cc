// parley bench-model: forward-pass speed as llama-bench measures it, so the two tables
// compare line by line: pp<P> (P prompt tokens computed in batches of -b, tokens/s), tg<N>
// (N tokens decoded one step at a time), each optionally after -d tokens already in the
// context (llama-bench -d), and tg<N> x<S> (S sequences decoding together in one ragged
// batch per step: aggregate tokens/s, the batch scaling). Random token ids, an empty cache
// per repetition, the mean and standard deviation over -r repetitions.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <random>
#include <sstream>

#include "base/check.h"
#include "base/thread_pool.h"
#include "commands.h"
#include "kernels/cpu.h"
#include "kernels/int8_matmul.h"
#include "model/transformer.h"

namespace parley {
namespace {

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
  const Model* model;
  Transformer* transformer;
  KvDtype dtype;
  int32_t batch;
};

using Clock = std::chrono::steady_clock;

// Computes `n` random tokens for every sequence from position `from`, `chunk` at a time;
// returns seconds.
double Compute(const Setup& s, KvCache* cache, std::vector<SeqKv>* seqs, int32_t from, int32_t n, int32_t chunk,
               std::mt19937* rng) {
  const int32_t vocab = s.model->config().vocab_size;
  std::vector<float> logits;
  std::vector<std::vector<int32_t>> toks(seqs->size());
  const auto t0 = Clock::now();
  for (int32_t done = 0; done < n;) {
    const int32_t m = std::min(chunk, n - done);
    std::vector<ForwardSeq> batch;
    for (size_t i = 0; i < seqs->size(); ++i) {
      toks[i].resize(m);
      for (int32_t& t : toks[i]) t = static_cast<int32_t>((*rng)() % vocab);
      PARLEY_CHECK(cache->Reserve(&(*seqs)[i], from + done, from + done + m)) << "KV arena too small";
      batch.push_back(ForwardSeq{&(*seqs)[i], toks[i], from + done, m - 1});
    }
    Status st = s.transformer->Forward(batch, cache, &logits);
    PARLEY_CHECK(st.ok()) << st.message();
    done += m;
    for (auto& seq : *seqs) cache->ReleaseOutsideWindow(&seq, from + done);
  }
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

struct Result {
  double mean = 0, sd = 0;
};

// One test, `reps` times: `streams` sequences, `depth` tokens first (untimed), then `n`
// tokens in chunks of `chunk` (timed). Tokens/s over all streams.
Result Run(const Setup& s, int32_t streams, int32_t depth, int32_t n, int32_t chunk, int32_t reps) {
  StatusOr<KvLayout> layout = MakeKvLayout(s.model->config());
  PARLEY_CHECK(layout.ok()) << layout.status().message();
  KvCacheOptions o;
  o.dtype = s.dtype;
  o.max_context = depth + n + 1;
  o.max_chunk = std::max(chunk, s.batch);
  o.arena_bytes = KvCache::ArenaBytesFor(*layout, o, streams * 1.25 + 1);
  std::vector<double> rates;
  std::mt19937 rng(1234);
  for (int32_t r = 0; r < reps; ++r) {
    auto cache = KvCache::Create(*layout, o);
    PARLEY_CHECK(cache.ok()) << cache.status().message();
    std::vector<SeqKv> seqs;
    for (int32_t i = 0; i < streams; ++i) seqs.push_back((*cache)->NewSeq());
    if (depth > 0) Compute(s, cache->get(), &seqs, 0, depth, s.batch, &rng);
    const double sec = Compute(s, cache->get(), &seqs, depth, n, chunk, &rng);
    rates.push_back(static_cast<double>(n) * streams / sec);
    for (auto& seq : seqs) (*cache)->Free(&seq);
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
  const int32_t threads = ResolveThreads(opts.model.threads);
  ThreadPool pool(threads);
  const Model& model = *loaded->model;
  Transformer transformer(model.config(), model.weights(), &pool, ParseActivationMode(opts.model.activations));
  StatusOr<KvDtype> kv_dtype = ParseKvDtype(opts.model.kv_dtype);
  if (!kv_dtype.ok()) {
    std::fprintf(stderr, "error: --kv-dtype: %s\n", kv_dtype.status().message().c_str());
    return 1;
  }
  const KvDtype dtype = *kv_dtype;
  Setup s{&model, &transformer, dtype, std::max(1, opts.model.batch_tokens)};
  const std::string name = std::filesystem::path(path).filename().string();
  const double mib = static_cast<double>(std::filesystem::file_size(path)) / (1 << 20);
  std::string kernels = SimdLevelName(ActiveSimdLevel());
  if (model.int8_weights()) kernels += Int8UsesAmx() ? " + AMX/VNNI int8" : Int8UsesVnni() ? " + VNNI int8" : " int8";
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
      if (p > 0) row("pp" + std::to_string(p) + at, Run(s, 1, d, p, s.batch, opts.reps));
    }
    for (int32_t n : gens) {
      if (n <= 0) continue;
      for (int32_t k : streams) {
        if (k <= 0) continue;
        row("tg" + std::to_string(n) + (k > 1 ? " x" + std::to_string(k) : "") + at, Run(s, k, d, n, 1, opts.reps));
      }
    }
  }
  return 0;
}

}  // namespace parley
