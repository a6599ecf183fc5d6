// The decoder forward pass shared by every supported architecture: it reads only
// ModelConfig flags (norm placement, QK-norm, RoPE style, activation, windows), so an
// architecture is a config reader plus its tensor names, not a new forward pass.
// Activations and the residual stream stay f32. Not thread-safe: one caller at a time;
// compute is spread over the ThreadPool.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <span>
#include <vector>

#include "base/status.h"
#include "base/thread_pool.h"
#include "kernels/int8_matmul.h"
#include "kv/kv_cache.h"
#include "model/config.h"
#include "model/forward_batch.h"
#include "model/sequence_kv.h"
#include "model/weights.h"

namespace parley {

enum class LogitRows { kLast, kAll, kNone };

// How matrix products see their input activations.
enum class ActivationMode {
  kF32,  // exact: f32 activations against dequantized weights
  kQ8,   // activations quantized per block to 8 bits (ggml's Q8_0/Q8_1/Q8_K, as llama.cpp
         // does) and integer block dot products: faster, and numerically llama.cpp's path
};

class Transformer {
 public:
  // REQUIRES: config, weights and pool outlive this object.
  Transformer(const ModelConfig& config, const ModelWeights& weights, ThreadPool* pool,
              ActivationMode mode = ActivationMode::kF32);

  // The ragged batch forward (DESIGN.md §2): computes every sequence's tokens as one
  // [num_tokens, hidden] matrix, writes their K/V into `cache` (pages already reserved by
  // the caller; the cache's layout decides which layers own K/V) and writes logits for
  // the rows each sequence asks for, sequence after sequence: [rows, vocab].
  // Does not advance anything: the caller owns the counters.
  // Errors (nothing written): empty sequence, token id out of range, bad logits_from,
  // a layout whose windows differ from the model's.
  Status Forward(std::span<const ForwardSeq> batch, KvCache* cache, std::vector<float>* logits);

  // One sequence: computes `tokens` at positions [kv->num_tokens(), +tokens.size()),
  // appends their K/V to `kv` and, per `which`, writes logits: kLast -> [vocab],
  // kAll -> [tokens, vocab]. Errors (nothing changed): as above, or context full.
  Status Forward(std::span<const int32_t> tokens, SequenceKv* kv, LogitRows which,
                 std::vector<float>* logits);

 private:
  struct MatMulJob {
    const WeightView* w;
    float* y;  // [num_tokens, w->rows]
  };
  // y = x W^T for one weight, or for up to four weights sharing the input x [num_tokens, cols].
  void MatMul(const WeightView& w, const float* x, int64_t num_tokens, float* y);
  void MatMuls(std::initializer_list<MatMulJob> jobs, const float* x, int64_t num_tokens);
  void Attention(int32_t layer, std::span<const ForwardSeq> batch, KvCache* cache);
  void StoreKv(int32_t layer, std::span<const ForwardSeq> batch, KvCache* cache);
  void Rope(float* x, int32_t num_heads, int32_t pos, float base) const;

  const ModelConfig& config_;
  const ModelWeights& weights_;
  ThreadPool* pool_;
  ActivationMode mode_;
  std::vector<uint8_t> xq_[2];  // quantized activations, one buffer per activation type in use
  // Per row of the batch: its sequence (index into the batch) and position.
  std::vector<int32_t> row_seq_, row_pos_;
  // Scratch, resized per call: [num_tokens, dim] row-major.
  std::vector<float> x_, h_, q_, k_, v_, attn_, ffn_gate_, ffn_up_;
  std::vector<float> attn_blocks_;  // per-block attention states when blocks are spread over threads
  std::vector<int8_t> xi8_;       // the input as int8 rows, for int8 weights
  std::vector<float> xi8_scale_;  // their per-block scales
  I16Activations xi16_;           // the input as int16, for int8 weights with 16-bit activations
};

}  // namespace parley
