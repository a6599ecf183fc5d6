// parley perplexity: the perplexity of a model over a text, by llama.cpp's method so the
// two tools' figures compare: the text is tokenized once (with BOS), cut into chunks of
// -c tokens, each chunk starts with BOS and is evaluated from an empty cache, and only the
// second half of each chunk is scored (every scored token sees at least c/2 tokens of
// context). Prints the running estimate per chunk and the final figure with its standard
// error.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "base/thread_pool.h"
#include "commands.h"
#include "kv/page_pool.h"
#include "model/sequence_kv.h"
#include "model/transformer.h"

namespace parley {

CLI::App* AddPerplexityCommand(CLI::App* app, PerplexityOptions* opts) {
  CLI::App* cmd = app->add_subcommand("perplexity", "perplexity of a model over a text file (llama.cpp's method)");
  opts->model.ctx_size = 512;
  opts->model.batch_tokens = 64;
  AddModelOptions(cmd, &opts->model);
  cmd->add_option("-f,--text", opts->text_file, "the text file (e.g. /usr/share/common-licenses/GPL-3)")->required();
  cmd->add_option("--chunks", opts->max_chunks, "evaluate at most this many chunks (0: all)")
      ->check(CLI::Range(0, 1 << 30));
  return cmd;
}

int RunPerplexity(const PerplexityOptions& opts) {
  std::ifstream in(opts.text_file, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "error: cannot read %s\n", opts.text_file.c_str());
    return 1;
  }
  std::stringstream buf;
  buf << in.rdbuf();
  const std::string text = buf.str();
  auto loaded = LoadModelWithProgress(opts.model.model_path.empty() ? DefaultModelPath() : opts.model.model_path,
                                      opts.model);
  if (!loaded.ok()) {
    std::fprintf(stderr, "error: %s\n", loaded.status().message().c_str());
    return 1;
  }
  StatusOr<KvDtype> dtype = ParseKvDtype(opts.model.kv_dtype);
  if (!dtype.ok()) {
    std::fprintf(stderr, "error: --kv-dtype: %s\n", dtype.status().message().c_str());
    return 1;
  }
  const Model& model = *loaded->model;
  const Tokenizer& tok = *loaded->tokenizer;
  const int32_t n_ctx = opts.model.ctx_size;
  const std::vector<int32_t> tokens = tok.Encode(text, /*add_special=*/true, /*parse_special=*/false);
  int64_t chunks = static_cast<int64_t>(tokens.size()) / n_ctx;
  if (opts.max_chunks > 0) chunks = std::min<int64_t>(chunks, opts.max_chunks);
  if (chunks == 0) {
    std::fprintf(stderr, "error: %s has %zu tokens, fewer than one chunk of %d (-c)\n", opts.text_file.c_str(),
                 tokens.size(), n_ctx);
    return 1;
  }
  const int32_t threads = ResolveThreads(opts.model.threads);
  ThreadPool pool(threads);
  Transformer transformer(model.config(), model.weights(), &pool, ParseActivationMode(opts.model.activations));
  const int32_t batch = std::max(1, std::min(opts.model.batch_tokens, n_ctx));
  const int32_t vocab = model.config().vocab_size;
  const int32_t first = n_ctx / 2;
  std::fprintf(stderr, "perplexity: %zu tokens, %lld chunks of %d, scoring the last %d of each; %d threads, %s "
               "weights, %s activations, %s KV\n",
               tokens.size(), static_cast<long long>(chunks), n_ctx, n_ctx - 1 - first, threads,
               opts.model.weights.c_str(), opts.model.activations.c_str(), opts.model.kv_dtype.c_str());
  double nll = 0.0, nll2 = 0.0;
  int64_t count = 0;
  std::vector<float> logits;
  const auto t0 = std::chrono::steady_clock::now();
  for (int64_t c = 0; c < chunks; ++c) {
    std::vector<int32_t> chunk(tokens.begin() + c * n_ctx, tokens.begin() + (c + 1) * n_ctx);
    if (tok.add_bos() && tok.bos_id() >= 0) chunk[0] = tok.bos_id();
    SequenceKv kv(model.config(), n_ctx, *dtype, "", batch);
    for (int32_t start = 0; start < n_ctx; start += batch) {
      const int32_t n = std::min(batch, n_ctx - start);
      const bool scored = start + n > first;
      Status st = transformer.Forward(std::span<const int32_t>(chunk.data() + start, n), &kv,
                                      scored ? LogitRows::kAll : LogitRows::kNone, &logits);
      if (!st.ok()) {
        std::fprintf(stderr, "error: %s\n", st.message().c_str());
        return 1;
      }
      if (!scored) continue;
      for (int32_t i = 0; i < n; ++i) {
        const int32_t pos = start + i;
        if (pos < first || pos + 1 >= n_ctx) continue;
        const float* row = logits.data() + static_cast<size_t>(i) * vocab;
        const float mx = *std::max_element(row, row + vocab);
        double sum = 0.0;
        for (int32_t v = 0; v < vocab; ++v) sum += std::exp(static_cast<double>(row[v]) - mx);
        const double lp = static_cast<double>(row[chunk[pos + 1]]) - mx - std::log(sum);
        nll -= lp;
        nll2 += lp * lp;
        ++count;
      }
    }
    std::printf("[%lld]%.4f%s", static_cast<long long>(c + 1), std::exp(nll / count), c + 1 < chunks ? "," : "\n");
    std::fflush(stdout);
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double mean = nll / count;
  const double var = std::max(0.0, nll2 / count - mean * mean);
  const double ppl = std::exp(mean);
  const double err = ppl * std::sqrt(var / std::max<int64_t>(1, count - 1));  // delta method, as llama.cpp
  std::printf("Final estimate: PPL = %.4f +/- %.5f  (%lld tokens scored, %.1f s, %.0f tokens/s evaluated)\n", ppl,
              err, static_cast<long long>(count), seconds, chunks * n_ctx / seconds);
  return 0;
}

}  // namespace parley
