// Model: a loaded GGUF model — the file mapping, its config and its weight views.
// Immutable after Load and shareable across threads; per-sequence state lives in
// SequenceKv and compute scratch in Transformer.
#pragma once

#include <memory>
#include <string>

#include "base/status.h"
#include "gguf/gguf.h"
#include "model/config.h"
#include "model/weights.h"

namespace parley {

class Model {
 public:
  // Opens and validates `path`, reads the config and resolves every weight. When
  // `progress` is set, pages the weights in and reports (bytes done, total).
  static StatusOr<std::unique_ptr<Model>> Load(const std::string& path,
                                               const LoadProgress& progress = nullptr);

  const GgufFile& gguf() const { return *gguf_; }
  const ModelConfig& config() const { return config_; }
  const ModelWeights& weights() const { return weights_; }

 private:
  Model() = default;
  std::unique_ptr<GgufFile> gguf_;
  ModelConfig config_;
  ModelWeights weights_;
};

}  // namespace parley
