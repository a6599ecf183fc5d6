// parley run: one prompt in, streamed text out, speed figures at the end. The request goes
// through the serving engine (Generator), so it gets the server's stop strings and logprobs.
#include <cstdio>

#include "commands.h"
#include "generator.h"

namespace parley {
namespace {

// "  'piece' -1.234 | top: 'a' -0.5, 'b' -1.2" for --logprobs.
void PrintLogprob(const Tokenizer& tok, const TokenLogprob& lp) {
  std::fprintf(stderr, "  %6d %-16s %9.4f", lp.token, ("'" + tok.Decode({lp.token}) + "'").c_str(), lp.logprob);
  if (!lp.top.empty()) std::fprintf(stderr, " | top:");
  for (const auto& [id, logprob] : lp.top) std::fprintf(stderr, " '%s' %.4f", tok.Decode({id}).c_str(), logprob);
  std::fprintf(stderr, "\n");
}

}  // namespace

int RunRun(const RunOptions& opts) {
  auto loaded = LoadModelWithProgress(opts.model.model_path.empty() ? DefaultModelPath()
                                                                    : opts.model.model_path, opts.model);
  if (!loaded.ok()) {
    std::fprintf(stderr, "error: %s\n", loaded.status().message().c_str());
    return 1;
  }
  const Tokenizer& tok = *loaded->tokenizer;
  auto gen = CreateGenerator(*loaded->model, tok, opts.model);
  if (!gen.ok()) {
    std::fprintf(stderr, "error: %s\n", gen.status().message().c_str());
    return 1;
  }
  std::fprintf(stderr, "numerics: %s\n", DescribeNumerics(opts.model).c_str());

  GenerationRequest req;
  req.prompt = tok.Encode(opts.prompt, /*add_special=*/true, !opts.no_special);
  req.sampling = opts.sampling;
  req.max_tokens = opts.max_tokens;
  req.ignore_eos = opts.ignore_eos;
  req.stop = opts.stop;
  req.logprobs = opts.logprobs;
  bool printed_prompt = false;
  auto stats = (*gen)->Generate(std::move(req), [&](const EngineEvent& ev) {
    if (!printed_prompt) {
      std::fputs(opts.prompt.c_str(), stdout);
      printed_prompt = true;
    }
    std::fputs(ev.text.c_str(), stdout);
    std::fflush(stdout);
    for (const TokenLogprob& lp : ev.logprobs) PrintLogprob(tok, lp);
    return true;
  });
  if (!stats.ok()) {
    std::fprintf(stderr, "error: %s\n", stats.status().message().c_str());
    return 1;
  }
  std::fputs("\n", stdout);
  std::fflush(stdout);
  const GenerationStats& s = *stats;
  if (s.context_full) std::fprintf(stderr, "(stopped: the context of %d tokens is full)\n", opts.model.ctx_size);
  const int32_t decode_steps = std::max(0, s.generated - 1);
  std::fprintf(stderr,
               "\nprompt: %d tokens in %.3f s (%.1f tok/s) | generation: %d tokens, %d decode steps "
               "in %.3f s (%.1f tok/s) | %d threads\n",
               s.computed_prompt, s.prompt_seconds, s.computed_prompt / std::max(s.prompt_seconds, 1e-9),
               s.generated, decode_steps, s.generate_seconds, decode_steps / std::max(s.generate_seconds, 1e-9),
               (*gen)->threads());
  return 0;
}

}  // namespace parley
