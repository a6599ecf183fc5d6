// parley run: one prompt in, streamed text out, speed figures at the end.
#include <cstdio>

#include "commands.h"
#include "generator.h"

namespace parley {

int RunRun(const RunOptions& opts) {
  auto loaded = LoadModelWithProgress(opts.model.model_path.empty() ? DefaultModelPath()
                                                                    : opts.model.model_path, opts.model);
  if (!loaded.ok()) {
    std::fprintf(stderr, "error: %s\n", loaded.status().message().c_str());
    return 1;
  }
  const Tokenizer& tok = *loaded->tokenizer;
  std::vector<int32_t> prompt = tok.Encode(opts.prompt, /*add_special=*/true, !opts.no_special);
  if (prompt.empty()) {
    std::fprintf(stderr, "error: the prompt is empty (and the model adds no BOS token)\n");
    return 1;
  }
  const int32_t threads = ResolveThreads(opts.model.threads);
  Generator gen(*loaded->model, tok, opts.model.ctx_size, threads,
                ParseActivationMode(opts.model.activations));
  StatusOr<KvDtype> kv_dtype = ParseKvDtype(opts.model.kv_dtype);
  if (!kv_dtype.ok()) {
    std::fprintf(stderr, "error: --kv-dtype: %s\n", kv_dtype.status().message().c_str());
    return 1;
  }
  gen.set_kv(opts.model.batch_tokens, *kv_dtype);
  std::fprintf(stderr, "numerics: %s\n", DescribeNumerics(opts.model).c_str());
  if (Status st = gen.CheckRequest(prompt, opts.sampling); !st.ok()) {
    std::fprintf(stderr, "error: %s\n", st.message().c_str());
    return 1;
  }
  StreamingDetokenizer detok(tok);
  std::fputs(opts.prompt.c_str(), stdout);
  std::fflush(stdout);
  auto stats = gen.Generate(prompt, opts.max_tokens, opts.sampling, opts.ignore_eos, [&](int32_t id) {
    std::string piece = detok.Feed(id);
    std::fputs(piece.c_str(), stdout);
    std::fflush(stdout);
    return true;
  });
  std::fputs(detok.Flush().c_str(), stdout);
  std::fputs("\n", stdout);
  std::fflush(stdout);
  if (!stats.ok()) {
    std::fprintf(stderr, "error: %s\n", stats.status().message().c_str());
    return 1;
  }
  const GenerationStats& s = *stats;
  if (s.context_full) std::fprintf(stderr, "(stopped: the context of %d tokens is full)\n", opts.model.ctx_size);
  std::fprintf(stderr,
               "\nprompt: %d tokens in %.3f s (%.1f tok/s) | generation: %d tokens, %d decode steps "
               "in %.3f s (%.1f tok/s) | %d threads\n",
               s.computed_prompt, s.prompt_seconds, s.computed_prompt / std::max(s.prompt_seconds, 1e-9),
               s.generated, s.decode_steps, s.generate_seconds,
               s.decode_steps / std::max(s.generate_seconds, 1e-9), threads);
  return 0;
}

}  // namespace parley
