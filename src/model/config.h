// ModelConfig: everything the forward pass needs to know about an architecture, read
// from GGUF metadata. One reader per architecture (gemma3.cc, llama.cc) fills the same
// struct; the forward pass (transformer.cc) only looks at the struct, never at names.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"
#include "gguf/gguf.h"
#include "kv/kv_layout.h"

namespace parley {

enum class Arch { kLlama, kGemma3 };
enum class RopeStyle {
  kNormal,  // pairs (2i, 2i+1): llama GGUFs (Q/K rows permuted at conversion)
  kNeox,    // pairs (i, i + d/2): gemma
};
enum class Activation { kSilu, kGeluTanh };

struct LayerConfig {
  int32_t window = 0;      // sliding-window length in tokens (keys p-window+1..p); 0 = global
  float rope_base = 10000.0f;
};

struct ModelConfig {
  Arch arch = Arch::kLlama;
  std::string arch_name;
  int32_t num_layers = 0;
  int32_t hidden = 0;          // n_embd
  int32_t num_heads = 0;
  int32_t num_kv_heads = 0;
  int32_t head_dim = 0;        // key_length == value_length
  int32_t ffn_hidden = 0;
  int32_t vocab_size = 0;
  int32_t context_length = 0;  // trained context
  float rms_eps = 1e-5f;
  int32_t rope_dims = 0;       // dimensions rotated per head (== head_dim here)
  RopeStyle rope_style = RopeStyle::kNormal;
  Activation activation = Activation::kSilu;
  float embedding_scale = 1.0f;       // gemma: sqrt(hidden)
  float attention_scale = 0.0f;       // multiplies q before q.k
  float final_logit_softcap = 0.0f;   // 0: none
  bool qk_norm = false;               // per-head RMSNorm of q and k (gemma3)
  bool post_norms = false;            // RMSNorm of the attention / FFN branch before the add
  std::vector<LayerConfig> layers;
  // Cross-layer KV sharing from `<arch>.attention.kv_owner_layers` (per layer: the layer
  // whose K/V it reads; itself when it owns its K/V). Empty: every layer owns its K/V.
  std::vector<int32_t> kv_owners;

  int32_t q_dim() const { return num_heads * head_dim; }
  int32_t kv_dim() const { return num_kv_heads * head_dim; }
  // Largest sliding window over all layers, 0 if every layer is global.
  int32_t max_window() const;
  bool is_global(int32_t layer) const { return layers[layer].window == 0; }
};

// The model's KV layout (DESIGN.md §3): per-layer windows from `config`, owners from
// `sharing` ("L:O,...") when non-empty, else from config.kv_owners, else none.
StatusOr<KvLayout> MakeKvLayout(const ModelConfig& config, const std::string& sharing = "");

// The most layers a model file may declare. Real models have at most a few hundred; the
// bound refuses a corrupt block_count before any per-layer array is sized from it (the
// fuzzer found a file declaring 2^30 layers that made loading allocate GBs and spin).
inline constexpr int64_t kMaxModelLayers = 4096;

// Reads the config of any supported architecture. Errors name the missing/invalid key.
StatusOr<ModelConfig> ReadModelConfig(const GgufFile& gguf);

// Per-architecture readers (one file each).
StatusOr<ModelConfig> ReadLlamaConfig(const GgufFile& gguf);
StatusOr<ModelConfig> ReadGemma3Config(const GgufFile& gguf);

// Helpers shared by the architecture readers: `<arch>.<suffix>` lookups.
class ArchKeys {
 public:
  ArchKeys(const GgufFile& gguf, std::string arch) : gguf_(gguf), arch_(std::move(arch)) {}
  // Required integer key: error "model.gguf: missing required key gemma3.block_count".
  StatusOr<int64_t> RequiredInt(const std::string& suffix) const;
  // block_count, in [1, kMaxModelLayers].
  StatusOr<int64_t> LayerCount() const;
  StatusOr<int64_t> IntOr(const std::string& suffix, int64_t fallback) const;
  StatusOr<double> FloatOr(const std::string& suffix, double fallback) const;
  std::string Key(const std::string& suffix) const { return arch_ + "." + suffix; }

 private:
  const GgufFile& gguf_;
  std::string arch_;
};

}  // namespace parley
