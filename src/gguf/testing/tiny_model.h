// Builds tiny random GGUF models of each supported architecture with Parley's own GGUF
// writer, for tests that need a real model file but not a real model's weights. The
// files carry a small working tokenizer (SPM for gemma3, byte-level BPE for llama) and a
// chat template, so every layer above the model can run on them.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"
#include "kernels/tensor_type.h"

namespace parley::testing {

struct TinyModelSpec {
  std::string arch = "llama";  // "llama" or "gemma3"
  int32_t layers = 2;
  int32_t hidden = 64;
  int32_t heads = 4;
  int32_t kv_heads = 2;
  int32_t head_dim = 16;
  int32_t ffn = 96;
  int32_t window = 0;          // gemma3: sliding window of local layers (0: none)
  int32_t swa_period = 2;      // gemma3: layer l is global iff l % period == period - 1
  int32_t context = 256;
  TensorType weight_type = TensorType::kF32;  // 2-D weights (must suit `hidden`/`ffn`)
  TensorType embed_type = TensorType::kF32;
  uint32_t seed = 1;
  std::vector<int32_t> kv_owners;  // written as <arch>.attention.kv_owner_layers if set
};

// A small Gemma-3-shaped spec (MQA: 4 heads over 1 KV head of 32, hidden 64, ffn 128):
// `layers` layers, layer l global iff l % swa_period == swa_period - 1, the others with a
// sliding window of `window` tokens.
TinyModelSpec SmallGemmaSpec(int32_t layers, int32_t window, int32_t swa_period = 3);

// Writes the model to `path`.
Status WriteTinyModel(const TinyModelSpec& spec, const std::string& path);

// A fresh path under the temp dir, unique per process and call.
std::string TempModelPath(const std::string& stem);

}  // namespace parley::testing
