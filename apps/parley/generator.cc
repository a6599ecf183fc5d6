#include "generator.h"

#include <algorithm>

namespace parley {

using Clock = std::chrono::steady_clock;

Generator::Generator(const Model& model, const Tokenizer& tokenizer, int32_t context, int32_t threads,
                     ActivationMode mode)
    : model_(model),
      tokenizer_(tokenizer),
      pool_(threads),
      transformer_(model.config(), model.weights(), &pool_, mode),
      kv_(model.config(), context) {}

void Generator::set_kv(int32_t batch_tokens, KvDtype dtype) {
  batch_tokens_ = std::max(1, batch_tokens);
  kv_dtype_ = dtype;
  kv_ = SequenceKv(model_.config(), kv_.max_tokens(), kv_dtype_, "", batch_tokens_);
  tokens_.clear();
}

Status Generator::Compute(size_t end) {
  while (static_cast<size_t>(kv_.num_tokens()) < end) {
    size_t begin = kv_.num_tokens();
    size_t n = std::min<size_t>(batch_tokens_, end - begin);
    std::span<const int32_t> batch(tokens_.data() + begin, n);
    LogitRows rows = begin + n == end ? LogitRows::kLast : LogitRows::kNone;
    PARLEY_RETURN_IF_ERROR(transformer_.Forward(batch, &kv_, rows, &logits_));
  }
  return Status::Ok();
}

Status Generator::CheckRequest(const std::vector<int32_t>& prompt, const SamplingParams& sampling) const {
  PARLEY_RETURN_IF_ERROR(sampling.Validate());
  if (prompt.empty()) return Status::Error("the prompt is empty");
  if (static_cast<int64_t>(prompt.size()) + 1 > kv_.max_tokens()) {
    return Status::Error("the prompt has " + std::to_string(prompt.size()) +
                         " tokens; the context holds " + std::to_string(kv_.max_tokens()) +
                         " (raise --ctx-size)");
  }
  return Status::Ok();
}

StatusOr<GenerationStats> Generator::Generate(const std::vector<int32_t>& prompt, int32_t max_tokens,
                                              const SamplingParams& sampling, bool ignore_eog,
                                              const std::function<bool(int32_t)>& on_token) {
  PARLEY_RETURN_IF_ERROR(CheckRequest(prompt, sampling));
  GenerationStats stats;
  stats.prompt_tokens = static_cast<int32_t>(prompt.size());

  // Keep the longest cached prefix (at least one prompt token must be computed to get
  // logits), rewinding the KV to it when the window layers allow; otherwise start over.
  size_t common = 0;
  const size_t cached = std::min<size_t>(tokens_.size(), kv_.num_tokens());
  while (common < cached && common + 1 < prompt.size() && tokens_[common] == prompt[common]) ++common;
  if (!kv_.CanTruncateTo(static_cast<int32_t>(common))) common = 0;
  kv_.Truncate(static_cast<int32_t>(common));
  tokens_ = prompt;
  stats.computed_prompt = static_cast<int32_t>(prompt.size() - common);

  auto t0 = Clock::now();
  PARLEY_RETURN_IF_ERROR(Compute(tokens_.size()));
  auto t1 = Clock::now();
  stats.prompt_seconds = std::chrono::duration<double>(t1 - t0).count();

  Sampler sampler(sampling);
  for (int32_t i = 0; i < max_tokens; ++i) {
    int32_t id = sampler.Sample(logits_);
    ++stats.generated;
    bool eog = !ignore_eog && tokenizer_.IsEndOfGeneration(id);
    bool go_on = on_token(id);
    if (eog) {
      stats.stopped_by_eog = true;
      break;
    }
    if (!go_on || i + 1 == max_tokens) break;
    if (kv_.num_tokens() + 1 >= kv_.max_tokens()) {
      stats.context_full = true;
      break;
    }
    tokens_.push_back(id);
    PARLEY_RETURN_IF_ERROR(Compute(tokens_.size()));
    ++stats.decode_steps;
  }
  stats.generate_seconds = std::chrono::duration<double>(Clock::now() - t1).count();
  return stats;
}

}  // namespace parley
