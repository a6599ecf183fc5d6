#include "model/config.h"

#include <algorithm>

namespace parley {

int32_t ModelConfig::max_window() const {
  int32_t w = 0;
  for (const LayerConfig& l : layers) w = std::max(w, l.window);
  return w;
}

StatusOr<int64_t> ArchKeys::RequiredInt(const std::string& suffix) const {
  PARLEY_ASSIGN_OR_RETURN(std::optional<int64_t> v, gguf_.GetInt(Key(suffix)));
  if (!v) return Status::Error("missing required key " + Key(suffix));
  if (*v <= 0 || *v > (int64_t{1} << 31)) {
    return Status::Error("key " + Key(suffix) + " has invalid value " + std::to_string(*v));
  }
  return *v;
}

StatusOr<int64_t> ArchKeys::IntOr(const std::string& suffix, int64_t fallback) const {
  PARLEY_ASSIGN_OR_RETURN(std::optional<int64_t> v, gguf_.GetInt(Key(suffix)));
  if (v && (*v < 0 || *v > (int64_t{1} << 31))) {
    return Status::Error("key " + Key(suffix) + " has invalid value " + std::to_string(*v));
  }
  return v.value_or(fallback);
}

StatusOr<double> ArchKeys::FloatOr(const std::string& suffix, double fallback) const {
  PARLEY_ASSIGN_OR_RETURN(std::optional<double> v, gguf_.GetFloat(Key(suffix)));
  return v.value_or(fallback);
}

namespace {

Status Validate(const ModelConfig& c) {
  if (c.num_kv_heads <= 0 || c.num_heads % c.num_kv_heads != 0) {
    return Status::Error("head_count " + std::to_string(c.num_heads) +
                         " is not a multiple of head_count_kv " + std::to_string(c.num_kv_heads));
  }
  if (c.head_dim <= 0 || c.head_dim > 1024 || c.head_dim % 2 != 0 || c.rope_dims != c.head_dim) {
    return Status::Error("unsupported head size " + std::to_string(c.head_dim) + " / rope dims " +
                         std::to_string(c.rope_dims) + " (Parley needs even head sizes, fully rotated)");
  }
  if (static_cast<int32_t>(c.layers.size()) != c.num_layers) {
    return Status::Error("per-layer config has the wrong length");
  }
  return Status::Ok();
}

}  // namespace

StatusOr<ModelConfig> ReadModelConfig(const GgufFile& gguf) {
  PARLEY_ASSIGN_OR_RETURN(std::optional<std::string> arch, gguf.GetString("general.architecture"));
  if (!arch) return Status::Error("missing required key general.architecture");
  StatusOr<ModelConfig> config = Status::Error("unreachable");
  if (*arch == "llama") {
    config = ReadLlamaConfig(gguf);
  } else if (*arch == "gemma3") {
    config = ReadGemma3Config(gguf);
  } else {
    return Status::Error("architecture \"" + *arch +
                         "\" is not supported (Parley runs: llama, gemma3)");
  }
  if (!config.ok()) return config.status();
  // Vocabulary size: the tokenizer's token list, else <arch>.vocab_size, else the embedding.
  if (const GgufValue* tokens = gguf.Find("tokenizer.ggml.tokens"); tokens && tokens->is_array()) {
    config->vocab_size = static_cast<int32_t>(tokens->size());
  } else {
    PARLEY_ASSIGN_OR_RETURN(std::optional<int64_t> v, gguf.GetInt(*arch + ".vocab_size"));
    const GgufTensorInfo* embd = gguf.FindTensor("token_embd.weight");
    if (v) {
      config->vocab_size = static_cast<int32_t>(*v);
    } else if (embd != nullptr && embd->ne.size() >= 2) {
      config->vocab_size = static_cast<int32_t>(embd->ne[1]);
    }
  }
  PARLEY_RETURN_IF_ERROR(Validate(*config));
  return config;
}

}  // namespace parley
