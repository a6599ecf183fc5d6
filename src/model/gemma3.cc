// The "gemma3" architecture: MQA/GQA with QK-norm, sliding-window local layers
// interleaved with global ones (pattern period 6 by default: layer l is global iff
// l % 6 == 5), per-layer RoPE base (local 10k, global from rope.freq_base), NEOX RoPE,
// post-attention and post-FFN norms, GeGLU (tanh GELU), embeddings scaled by sqrt(hidden).
// The GGUF converter already folded Gemma's (1 + w) into every norm weight.
#include <cmath>

#include "model/config.h"

namespace parley {

StatusOr<ModelConfig> ReadGemma3Config(const GgufFile& gguf) {
  ArchKeys keys(gguf, "gemma3");
  ModelConfig c;
  c.arch = Arch::kGemma3;
  c.arch_name = "gemma3";
  PARLEY_ASSIGN_OR_RETURN(int64_t layers, keys.LayerCount());
  PARLEY_ASSIGN_OR_RETURN(int64_t hidden, keys.RequiredInt("embedding_length"));
  PARLEY_ASSIGN_OR_RETURN(int64_t heads, keys.RequiredInt("attention.head_count"));
  PARLEY_ASSIGN_OR_RETURN(int64_t ffn, keys.RequiredInt("feed_forward_length"));
  PARLEY_ASSIGN_OR_RETURN(int64_t kv_heads, keys.IntOr("attention.head_count_kv", heads));
  PARLEY_ASSIGN_OR_RETURN(int64_t head_dim, keys.RequiredInt("attention.key_length"));
  PARLEY_ASSIGN_OR_RETURN(int64_t value_dim, keys.IntOr("attention.value_length", head_dim));
  PARLEY_ASSIGN_OR_RETURN(int64_t rope_dims, keys.IntOr("rope.dimension_count", head_dim));
  PARLEY_ASSIGN_OR_RETURN(int64_t ctx, keys.IntOr("context_length", 32768));
  PARLEY_ASSIGN_OR_RETURN(double eps, keys.FloatOr("attention.layer_norm_rms_epsilon", 1e-6));
  PARLEY_ASSIGN_OR_RETURN(double global_base, keys.FloatOr("rope.freq_base", 1000000.0));
  PARLEY_ASSIGN_OR_RETURN(double local_base, keys.FloatOr("rope.freq_base_swa", 10000.0));
  PARLEY_ASSIGN_OR_RETURN(int64_t window, keys.IntOr("attention.sliding_window", 0));
  PARLEY_ASSIGN_OR_RETURN(double softcap, keys.FloatOr("final_logit_softcapping", 0.0));
  PARLEY_ASSIGN_OR_RETURN(std::optional<double> scale, gguf.GetFloat("gemma3.rope.scaling.factor"));
  if (scale && *scale != 1.0) {
    return Status::Error("gemma3.rope.scaling.factor " + std::to_string(*scale) +
                         " (RoPE scaling) is not supported yet");
  }
  if (value_dim != head_dim) {
    return Status::Error("gemma3.attention.value_length differs from key_length; not supported");
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
  c.rope_style = RopeStyle::kNeox;
  c.activation = Activation::kGeluTanh;
  c.embedding_scale = std::sqrt(static_cast<float>(hidden));
  c.attention_scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
  c.final_logit_softcap = static_cast<float>(softcap);
  c.qk_norm = true;
  c.post_norms = true;

  // Which layers slide: an explicit per-layer bool array, else a period (default 6).
  std::vector<bool> sliding(c.num_layers, false);
  const GgufValue* pattern = gguf.Find("gemma3.attention.sliding_window_pattern");
  if (pattern != nullptr && pattern->is_array()) {
    if (static_cast<int32_t>(pattern->size()) != c.num_layers || pattern->ints.size() != pattern->size()) {
      return Status::Error("gemma3.attention.sliding_window_pattern must hold one bool per layer");
    }
    for (int32_t l = 0; l < c.num_layers; ++l) sliding[l] = pattern->ints[l] != 0;
  } else {
    PARLEY_ASSIGN_OR_RETURN(int64_t period, keys.IntOr("attention.sliding_window_pattern", 6));
    for (int32_t l = 0; l < c.num_layers; ++l) sliding[l] = period > 1 && (l % period) < period - 1;
  }
  c.layers.resize(c.num_layers);
  for (int32_t l = 0; l < c.num_layers; ++l) {
    bool local = window > 0 && sliding[l];
    c.layers[l].window = local ? static_cast<int32_t>(window) : 0;
    c.layers[l].rope_base = static_cast<float>(local ? local_base : global_base);
  }
  return c;
}

}  // namespace parley
