#include "generator.h"

#include <chrono>

namespace parley {

Generator::Generator(const Model& model, const GeneratorOptions& options)
    : options_(options), runner_(model, options.threads, options.mode) {}

Generator::~Generator() {
  if (engine_) engine_->Shutdown();
}

StatusOr<std::unique_ptr<Generator>> Generator::Create(const Model& model, const Tokenizer& tokenizer,
                                                       const GeneratorOptions& options) {
  std::unique_ptr<Generator> g(new Generator(model, options));
  EngineOptions eo;
  eo.max_batch_tokens = std::max(1, options.batch_tokens);
  eo.max_seqs = std::max(1, options.max_seqs);
  eo.max_queue = eo.max_seqs;
  eo.max_context = options.context;
  eo.kv.arena_bytes = 0;  // sized for max_seqs sequences of the whole context
  eo.kv.dtype = options.kv_dtype;
  eo.kv.max_context = options.context;
  eo.prefix_cache = options.prefix_cache;  // chat: a turn resumes after the conversation's cached pages
  PARLEY_ASSIGN_OR_RETURN(g->engine_, Engine::Create(&g->runner_, tokenizer, eo));
  return g;
}

StatusOr<GeneratorOptions> GeneratorOptionsFrom(const ModelOptions& opts) {
  StatusOr<KvDtype> kv_dtype = ParseKvDtype(opts.kv_dtype);
  if (!kv_dtype.ok()) return Status::InvalidArgument("--kv-dtype: " + kv_dtype.status().message());
  GeneratorOptions go;
  go.context = opts.ctx_size;
  go.threads = ResolveThreads(opts.threads);
  go.batch_tokens = opts.batch_tokens;
  go.mode = ParseActivationMode(opts.activations);
  go.kv_dtype = *kv_dtype;
  return go;
}

StatusOr<std::unique_ptr<Generator>> CreateGenerator(const Model& model, const Tokenizer& tokenizer,
                                                     const ModelOptions& opts) {
  PARLEY_ASSIGN_OR_RETURN(GeneratorOptions go, GeneratorOptionsFrom(opts));
  return Generator::Create(model, tokenizer, go);
}

StatusOr<std::vector<double>> Generator::ScorePrompt(std::vector<int32_t> prompt, int32_t from) {
  const size_t want = from >= 1 && static_cast<size_t>(from) < prompt.size() ? prompt.size() - from : 0;
  GenerationRequest req;
  req.prompt = std::move(prompt);
  req.max_tokens = 0;
  req.score_prompt_from = from;
  std::vector<double> scores;
  StatusOr<GenerationStats> done = Generate(std::move(req), [&](const EngineEvent& ev) {
    scores.insert(scores.end(), ev.prompt_scores.begin(), ev.prompt_scores.end());
    return true;
  });
  if (!done.ok()) return done.status();
  if (scores.size() != want) {
    return Status::Error("scored " + std::to_string(scores.size()) + " prompt tokens, expected " +
                         std::to_string(want));
  }
  return scores;
}

StatusOr<GenerationStats> Generator::Generate(GenerationRequest request,
                                              const std::function<bool(const EngineEvent&)>& on_event) {
  const int32_t max_tokens = request.max_tokens;
  const auto t0 = std::chrono::steady_clock::now();
  PARLEY_ASSIGN_OR_RETURN(std::shared_ptr<RequestStream> stream, engine_->Submit(std::move(request)));
  GenerationStats stats;
  bool cancelled = false;
  for (;;) {
    std::optional<EngineEvent> ev = stream->Next(std::chrono::milliseconds(100));
    if (!ev) continue;
    if (!cancelled && !on_event(*ev)) {
      stream->Cancel();
      cancelled = true;
    }
    if (ev->finish == FinishReason::kNone) continue;
    if (ev->finish == FinishReason::kError) return Status::Error(ev->error);
    const double total = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    stats.prompt_tokens = ev->usage.prompt_tokens;
    stats.computed_prompt = ev->usage.prompt_tokens - ev->usage.cached_tokens;
    stats.generated = ev->usage.completion_tokens;
    stats.prompt_seconds = ev->ttft_seconds > 0 ? ev->ttft_seconds : total;
    stats.generate_seconds = total - stats.prompt_seconds;
    stats.finish = ev->finish;
    stats.context_full = ev->finish == FinishReason::kLength && stats.generated < max_tokens;
    return stats;
  }
}

}  // namespace parley
