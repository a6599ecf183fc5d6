// parley perplexity: the perplexity of a model over a text, by llama.cpp's method so the
// two tools' figures compare: the text is tokenized once (with BOS), cut into chunks of
// -c tokens, each chunk starts with BOS and is evaluated from an empty cache, and only the
// second half of each chunk is scored (every scored token sees at least c/2 tokens of
// context). Prints the running estimate per chunk and the final figure with its standard
// error. Each chunk is one prompt-scoring request to the engine (Generator::ScorePrompt,
// prefix cache off): computed in its -b token prefill chunks, every scored token's
// log-probability summed in double.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "commands.h"
#include "generator.h"

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
  StatusOr<GeneratorOptions> go = GeneratorOptionsFrom(opts.model);
  if (!go.ok()) {
    std::fprintf(stderr, "error: %s\n", go.status().message().c_str());
    return 1;
  }
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
  go->context = n_ctx + 1;  // a chunk, plus the token the engine always leaves room for
  go->batch_tokens = std::max(1, std::min(opts.model.batch_tokens, n_ctx));
  go->prefix_cache = false;  // every chunk from an empty cache
  auto gen = Generator::Create(*loaded->model, tok, *go);
  if (!gen.ok()) {
    std::fprintf(stderr, "error: %s\n", gen.status().message().c_str());
    return 1;
  }
  const int32_t first = n_ctx / 2;  // the first row scored: it predicts token first + 1
  std::fprintf(stderr, "perplexity: %zu tokens, %lld chunks of %d, scoring the last %d of each; %d threads, %s "
               "weights, %s activations, %s KV\n",
               tokens.size(), static_cast<long long>(chunks), n_ctx, n_ctx - 1 - first, go->threads,
               opts.model.weights.c_str(), opts.model.activations.c_str(), opts.model.kv_dtype.c_str());
  double nll = 0.0, nll2 = 0.0;
  int64_t count = 0;
  const auto t0 = std::chrono::steady_clock::now();
  for (int64_t c = 0; c < chunks; ++c) {
    std::vector<int32_t> chunk(tokens.begin() + c * n_ctx, tokens.begin() + (c + 1) * n_ctx);
    if (tok.add_bos() && tok.bos_id() >= 0) chunk[0] = tok.bos_id();
    StatusOr<std::vector<double>> scores = (*gen)->ScorePrompt(std::move(chunk), first + 1);
    if (!scores.ok()) {
      std::fprintf(stderr, "error: %s\n", scores.status().message().c_str());
      return 1;
    }
    for (const double lp : *scores) {
      nll -= lp;
      nll2 += lp * lp;
      ++count;
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
