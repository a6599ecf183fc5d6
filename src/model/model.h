// Model: a loaded GGUF model — the file mapping, its config and its weight views.
// Immutable after Load and shareable across threads; per-sequence state lives in
// SequenceKv and compute scratch in Transformer.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "base/status.h"
#include "gguf/gguf.h"
#include "model/config.h"
#include "model/weights.h"

namespace parley {

struct ModelLoadOptions {
  // Convert every matrix-product weight (attention, FFN, output head) to int8 at load
  // (kernels/int8_matmul.h; which products take 16-bit activations: model.cc). The
  // embedding lookup keeps the file's own type. The file's pages of each converted slice
  // are released at once.
  bool int8_weights = false;
  // With int8_weights: false makes every layer product W8A8 (int8 activations per 64 values,
  // per-row weight scales; only the head keeps 16-bit activations): faster, and lossless on
  // Gemma 3 270M, but +0.7% perplexity on SmolLM2 (`--weights w8a8`).
  bool int8_wide_activations = true;
  // Repack every matrix-product weight of a packable type (Q4_0, Q4_1, Q4_K, Q5_0, Q5_K,
  // Q6_K, Q8_0) at its own bits, products with 16-bit activations (kernels/packed_matmul.h);
  // weights of other types become int8 rows with 16-bit activations. Excludes int8_weights.
  bool packed_weights = false;
  int32_t threads = 1;  // for the conversion
  // File bytes converted between two releases of their pages: resident memory peaks at the
  // int8 copies plus about this much of the file.
  int64_t convert_slice_bytes = 8 << 20;
};

class Model {
 public:
  // Opens and validates `path`, reads the config and resolves every weight. When
  // `progress` is set, pages the weights in (int8_weights: converts them) and reports
  // (bytes done, total).
  static StatusOr<std::unique_ptr<Model>> Load(const std::string& path,
                                               const LoadProgress& progress = nullptr,
                                               const ModelLoadOptions& options = {});

  const GgufFile& gguf() const { return *gguf_; }
  const ModelConfig& config() const { return config_; }
  const ModelWeights& weights() const { return weights_; }
  // Whether the products read converted copies (int8 rows or packed panels), and their bytes.
  bool converted_weights() const { return !int8_.empty() || !packed_.empty(); }
  bool packed_weights() const { return !packed_.empty(); }
  int64_t converted_bytes() const;

 private:
  Model() = default;
  std::unique_ptr<GgufFile> gguf_;
  ModelConfig config_;
  ModelWeights weights_;
  std::vector<std::unique_ptr<Int8Matrix>> int8_;      // the converted weights (int8_weights)
  std::vector<std::unique_ptr<PackedMatrix>> packed_;  // the packed weights (packed_weights)
};

}  // namespace parley
