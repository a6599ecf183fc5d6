#include "engine/exact_scorer.h"

#include <algorithm>

namespace parley {

StatusOr<std::unique_ptr<ExactScorer>> ExactScorer::Create(const Model& model, ThreadPool* pool, int32_t max_tokens,
                                                            int32_t max_chunk) {
  if (max_tokens < 1 || max_chunk < 1) return Status::InvalidArgument("canary: max_tokens and max_chunk must be >= 1");
  PARLEY_ASSIGN_OR_RETURN(ModelWeights weights, LoadWeights(model.gguf(), model.config()));
  PARLEY_RETURN_IF_ERROR(MakeKvLayout(model.config(), "").status());
  return std::unique_ptr<ExactScorer>(
      new ExactScorer(model.config(), std::move(weights), pool, max_tokens, max_chunk));
}

ExactScorer::ExactScorer(const ModelConfig& config, ModelWeights weights, ThreadPool* pool, int32_t max_tokens,
                         int32_t max_chunk)
    : config_(config),
      weights_(std::move(weights)),
      max_chunk_(std::min(max_chunk, max_tokens)),
      transformer_(config_, weights_, pool, ActivationMode::kF32),
      kv_(std::make_unique<SequenceKv>(config, max_tokens, KvDtype::kF32, "", max_chunk_)) {}

int32_t ExactScorer::Resume(std::span<const int32_t> tokens) {
  size_t common = 0;
  while (common < tokens_.size() && common < tokens.size() && tokens_[common] == tokens[common]) ++common;
  if (!kv_->CanTruncateTo(static_cast<int32_t>(common))) common = 0;
  kv_->Truncate(static_cast<int32_t>(common));
  tokens_.resize(common);
  return static_cast<int32_t>(common);
}

Status ExactScorer::Forward(std::span<const int32_t> tokens, std::vector<float>* logits) {
  if (static_cast<int32_t>(tokens.size()) > max_chunk_) {
    return Status::InvalidArgument("canary: " + std::to_string(tokens.size()) + " tokens in one chunk, at most " +
                                   std::to_string(max_chunk_));
  }
  PARLEY_RETURN_IF_ERROR(transformer_.Forward(tokens, kv_.get(), logits != nullptr ? LogitRows::kAll : LogitRows::kNone,
                                              logits != nullptr ? logits : &no_logits_));
  tokens_.insert(tokens_.end(), tokens.begin(), tokens.end());
  return Status::Ok();
}

StatusOr<std::unique_ptr<QualityCanary>> CreateExactCanary(const Model& model, ThreadPool* pool, int32_t max_context,
                                                           double rate, Metrics* metrics) {
  CanaryOptions options;
  options.rate = rate;
  PARLEY_ASSIGN_OR_RETURN(std::unique_ptr<ExactScorer> scorer,
                          ExactScorer::Create(model, pool, max_context, options.slice_tokens));
  return QualityCanary::Create(std::move(scorer), metrics, options);
}

}  // namespace parley
