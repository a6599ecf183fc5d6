#include "engine/exact_scorer.h"

#include <algorithm>

#include <sys/mman.h>
#include <unistd.h>

namespace parley {

StatusOr<std::unique_ptr<ExactScorer>> ExactScorer::Create(const Model& model, ThreadPool* pool, int32_t max_tokens,
                                                            int32_t max_chunk) {
  if (max_tokens < 1 || max_chunk < 1) return Status::InvalidArgument("canary: max_tokens and max_chunk must be >= 1");
  PARLEY_ASSIGN_OR_RETURN(ModelWeights weights, LoadWeights(model.gguf(), model.config()));
  PARLEY_RETURN_IF_ERROR(MakeKvLayout(model.config(), "").status());
  std::unique_ptr<ExactScorer> scorer(new ExactScorer(model.config(), std::move(weights), pool, max_tokens, max_chunk));
  // The serving model reads int8 copies of these instead of the file's bytes.
  const ModelWeights& serving = model.weights();
  const ModelWeights& exact = scorer->weights_;
  for (size_t l = 0; l < serving.layers.size(); ++l) {
    const LayerWeights& s = serving.layers[l];
    const LayerWeights& e = exact.layers[l];
    const std::pair<const WeightView*, const WeightView*> pairs[] = {
        {&s.wq, &e.wq}, {&s.wk, &e.wk}, {&s.wv, &e.wv}, {&s.wo, &e.wo},
        {&s.w_gate, &e.w_gate}, {&s.w_up, &e.w_up}, {&s.w_down, &e.w_down}};
    for (const auto& [sv, ev] : pairs) {
      if (sv->i8 != nullptr && ev->data != nullptr) scorer->private_weights_.push_back(ev);
    }
  }
  if (serving.output.i8 != nullptr) scorer->private_weights_.push_back(&exact.output);
  return scorer;
}

ExactScorer::ExactScorer(const ModelConfig& config, ModelWeights weights, ThreadPool* pool, int32_t max_tokens,
                         int32_t max_chunk)
    : config_(config),
      weights_(std::move(weights)),
      max_tokens_(max_tokens),
      max_chunk_(std::min(max_chunk, max_tokens)),
      transformer_(config_, weights_, pool, ActivationMode::kF32) {}

void ExactScorer::EnsureKv() {
  if (kv_ == nullptr) kv_ = std::make_unique<SequenceKv>(config_, max_tokens_, KvDtype::kF32, "", max_chunk_);
}

void ExactScorer::Release() {
  kv_.reset();
  tokens_.clear();
  // Whole pages inside each tensor only: a page shared with a neighbour the serving model
  // reads stays (a later touch would bring it back anyway; this only avoids the fault).
  const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  for (const WeightView* w : private_weights_) {
    const uintptr_t data = reinterpret_cast<uintptr_t>(w->data);
    const uintptr_t begin = (data + page - 1) / page * page;
    const uintptr_t end = (data + static_cast<uintptr_t>(w->rows) * w->row_bytes) / page * page;
    if (end > begin) madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED);
  }
}

int32_t ExactScorer::Resume(std::span<const int32_t> tokens) {
  EnsureKv();
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
  EnsureKv();
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
