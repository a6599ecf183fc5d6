// The "llama" architecture (Llama 2/3, SmolLM2, ...): pre-norm blocks, SwiGLU FFN,
// RoPE on adjacent pairs (the GGUF converter permuted Q/K rows for it), no QK-norm.
#include <cmath>

#include "model/config.h"

namespace parley {

StatusOr<ModelConfig> ReadLlamaConfig(const GgufFile& gguf) {
  ArchKeys keys(gguf, "llama");
  ModelConfig c;
  c.arch = Arch::kLlama;
  c.arch_name = "llama";
  PARLEY_ASSIGN_OR_RETURN(int64_t layers, keys.LayerCount());
  PARLEY_ASSIGN_OR_RETURN(int64_t hidden, keys.RequiredInt("embedding_length"));
  PARLEY_ASSIGN_OR_RETURN(int64_t heads, keys.RequiredInt("attention.head_count"));
  PARLEY_ASSIGN_OR_RETURN(int64_t ffn, keys.RequiredInt("feed_forward_length"));
  PARLEY_ASSIGN_OR_RETURN(int64_t kv_heads, keys.IntOr("attention.head_count_kv", heads));
  PARLEY_ASSIGN_OR_RETURN(int64_t head_dim, keys.IntOr("attention.key_length", hidden / heads));
  PARLEY_ASSIGN_OR_RETURN(int64_t rope_dims, keys.IntOr("rope.dimension_count", head_dim));
  PARLEY_ASSIGN_OR_RETURN(int64_t ctx, keys.IntOr("context_length", 2048));
  PARLEY_ASSIGN_OR_RETURN(double eps, keys.FloatOr("attention.layer_norm_rms_epsilon", 1e-5));
  PARLEY_ASSIGN_OR_RETURN(double base, keys.FloatOr("rope.freq_base", 10000.0));
  PARLEY_ASSIGN_OR_RETURN(std::optional<double> scale, gguf.GetFloat("llama.rope.scaling.factor"));
  if (scale && *scale != 1.0) {
    return Status::Error("llama.rope.scaling.factor " + std::to_string(*scale) +
                         " (RoPE scaling) is not supported yet");
  }
  c.num_layers = static_cast<int32_t>(layers);
  c.hidden = static_cast<int32_t>(hidden);
  c.num_heads = static_cast<int32_t>(heads);
  c.num_kv_heads = static_cast<int32_t>(kv_heads);
  c.head_dim = static_cast<int32_t>(head_dim);
  c.rope_dims = static_cast<int32_t>(rope_dims);
  c.ffn_hidden = static_cast<int32_t>(ffn);
  c.context_length = static_cast<int32_t>(ctx);
  c.rms_eps = static_cast<float>(eps);
  c.rope_style = RopeStyle::kNormal;
  c.activation = Activation::kSilu;
  c.attention_scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
  c.layers.assign(c.num_layers, LayerConfig{0, static_cast<float>(base)});
  return c;
}

}  // namespace parley
