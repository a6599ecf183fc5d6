// Views of a model's weight tensors inside the memory-mapped GGUF file. Loading checks
// that every required tensor exists with the expected shape and a supported type; the
// bytes themselves are never copied.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "base/status.h"
#include "gguf/gguf.h"
#include "kernels/int8_matmul.h"
#include "kernels/matmul_plan.h"
#include "kernels/tensor_type.h"
#include "model/config.h"

namespace parley {

// A 2-D (or 1-D) weight: `rows` rows of `cols` elements, each row `row_bytes` long.
struct WeightView {
  std::string name;
  TensorType type = TensorType::kF32;
  const uint8_t* data = nullptr;
  int64_t cols = 0;  // ne[0]: the contiguous dimension, = input features
  int64_t rows = 0;  // ne[1]: output features
  size_t row_bytes = 0;
  // Set when the model was loaded with int8 weights: the products use these rows instead
  // (owned by the Model).
  const Int8Matrix* i8 = nullptr;
  // Set when the model was loaded with packed weights (`--weights packed`): the file's
  // codes repacked for the products (owned by the Model).
  const PackedMatrix* packed = nullptr;

  const uint8_t* row(int64_t r) const { return data + r * row_bytes; }
  // The weight as the matrix-product plans see it.
  MatrixDesc matrix() const { return MatrixDesc{type, data, cols, rows, row_bytes, i8, packed}; }
  // The tensor as f32 values (norm weights: small, 1-D). REQUIRES rows == 1 or a 1-D tensor.
  std::vector<float> ToF32() const;
};

struct LayerWeights {
  WeightView attn_norm;                  // [hidden]
  WeightView wq, wk, wv, wo;             // [hidden -> q_dim], [hidden -> kv_dim] x2, [q_dim -> hidden]
  WeightView q_norm, k_norm;             // [head_dim] (qk_norm only)
  WeightView post_attn_norm;             // [hidden] (post_norms only)
  WeightView ffn_norm;                   // [hidden]
  WeightView w_gate, w_up, w_down;       // [hidden -> ffn] x2, [ffn -> hidden]
  WeightView post_ffn_norm;              // [hidden] (post_norms only)
  // f32 copies of the 1-D norm weights (tiny; avoids converting every step).
  std::vector<float> attn_norm_f, q_norm_f, k_norm_f, post_attn_norm_f, ffn_norm_f, post_ffn_norm_f;
};

struct ModelWeights {
  WeightView token_embd;   // [vocab rows, hidden]
  WeightView output;       // the output head: output.weight, or token_embd when tied
  WeightView output_norm;  // [hidden]
  std::vector<float> output_norm_f;
  std::vector<LayerWeights> layers;
};

// Called with (done, total) bytes while weights are paged in.
using LoadProgress = std::function<void(uint64_t, uint64_t)>;

// Resolves and checks every tensor `config` needs. Errors read like
// "tensor blk.3.attn_q.weight has type IQ2_XS (16), which Parley does not support".
StatusOr<ModelWeights> LoadWeights(const GgufFile& gguf, const ModelConfig& config);

// Touches every page of the weights so the first request does not pay for page faults,
// reporting progress as it goes.
void PrefaultWeights(const GgufFile& gguf, const LoadProgress& progress);

}  // namespace parley
