// TransformerRunner: the ModelRunner of a real model: a thread pool and a Transformer
// over a loaded Model. Used by `parley serve`; engine tests use a fake runner instead.
#pragma once

#include <memory>

#include "base/thread_pool.h"
#include "engine/model_runner.h"
#include "model/model.h"
#include "model/transformer.h"

namespace parley {

class TransformerRunner : public ModelRunner {
 public:
  // REQUIRES: `model` outlives the runner.
  TransformerRunner(const Model& model, int32_t threads, ActivationMode mode = ActivationMode::kF32);

  int32_t vocab_size() const override { return model_.config().vocab_size; }
  std::vector<int32_t> LayerWindows() const override;
  std::vector<int32_t> KvOwners() const override;
  int32_t kv_dim() const override { return model_.config().kv_dim(); }
  int32_t head_dim() const override { return model_.config().head_dim; }
  Status Forward(std::span<const ForwardSeq> batch, KvCache* cache,
                 std::vector<float>* logits) override {
    return transformer_.Forward(batch, cache, logits);
  }
  const Model& model() const { return model_; }
  // The pool Forward runs on; the engine thread may use it between Forward calls (the
  // quality canary's exact scorer does).
  ThreadPool* pool() { return &pool_; }

 private:
  const Model& model_;
  ThreadPool pool_;
  Transformer transformer_;
};

}  // namespace parley
