#include "model/config.h"

#include <algorithm>
#include <cstdint>

namespace parley {

int32_t ModelConfig::max_window() const {
  int32_t w = 0;
  for (const LayerConfig& l : layers) w = std::max(w, l.window);
  return w;
}

StatusOr<int64_t> ArchKeys::RequiredInt(const std::string& suffix) const {
  PARLEY_ASSIGN_OR_RETURN(std::optional<int64_t> v, gguf_.GetInt(Key(suffix)));
  if (!v) return Status::Error("missing required key " + Key(suffix));
  if (*v <= 0 || *v > INT32_MAX) {
    return Status::Error("key " + Key(suffix) + " has invalid value " + std::to_string(*v));
  }
  return *v;
}

StatusOr<int64_t> ArchKeys::LayerCount() const {
  PARLEY_ASSIGN_OR_RETURN(int64_t layers, RequiredInt("block_count"));
  if (layers > kMaxModelLayers) {
    return Status::Error("key " + Key("block_count") + " has invalid value " +
                         std::to_string(layers) + " (at most " +
                         std::to_string(kMaxModelLayers) + " layers)");
  }
  return layers;
}

StatusOr<int64_t> ArchKeys::IntOr(const std::string& suffix, int64_t fallback) const {
  PARLEY_ASSIGN_OR_RETURN(std::optional<int64_t> v, gguf_.GetInt(Key(suffix)));
  if (v && (*v < 0 || *v > INT32_MAX)) {
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
  if (const GgufValue* owners = gguf.Find(*arch + ".attention.kv_owner_layers"); owners != nullptr) {
    const size_t n = owners->is_array() ? owners->size() : 0;
    if (n != static_cast<size_t>(config->num_layers) ||
        (owners->ints.size() != n && owners->uints.size() != n)) {
      return Status::Error("key " + *arch + ".attention.kv_owner_layers must be an integer array "
                           "with one entry per layer");
    }
    for (size_t i = 0; i < n; ++i) {
      config->kv_owners.push_back(static_cast<int32_t>(
          owners->ints.size() == n ? owners->ints[i] : static_cast<int64_t>(owners->uints[i])));
    }
  }
  PARLEY_RETURN_IF_ERROR(Validate(*config));
  PARLEY_RETURN_IF_ERROR(MakeKvLayout(*config).status().WithContext("kv sharing in the model file"));
  return config;
}

StatusOr<KvLayout> MakeKvLayout(const ModelConfig& config, const std::string& sharing) {
  std::vector<int32_t> windows;
  for (const LayerConfig& l : config.layers) windows.push_back(l.window);
  std::vector<int32_t> owners = config.kv_owners;
  if (!sharing.empty()) {
    PARLEY_ASSIGN_OR_RETURN(owners, ParseKvSharing(sharing, config.num_layers));
  }
  return KvLayout::Make(windows, owners, config.kv_dim(), config.head_dim);
}

}  // namespace parley
