// The decoder forward pass shared by every supported architecture: it reads only
// ModelConfig flags (norm placement, QK-norm, RoPE style, activation, windows), so an
// architecture is a config reader plus its tensor names, not a new forward pass.
// Activations and the residual stream stay f32. Not thread-safe: one caller at a time;
// compute is spread over the ThreadPool.
#pragma once

#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <span>
#include <vector>

#include "base/status.h"
#include "base/thread_pool.h"
#include "kernels/matmul_plan.h"
#include "kv/kv_cache.h"
#include "kv/paged_kv_view.h"
#include "model/config.h"
#include "model/forward_batch.h"
#include "model/sequence_kv.h"
#include "model/weights.h"

namespace parley {

enum class LogitRows { kLast, kAll, kNone };

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
  // One plan per weight used in a product, built at construction (kernels/matmul_plan.h).
  struct LayerPlans {
    std::unique_ptr<MatMulPlan> wq, wk, wv, wo, w_gate, w_up, w_down;
  };
  // y = x W^T for one weight, or for up to four weights sharing the input x [num_tokens, cols].
  void MatMul(const MatMulPlan& w, const float* x, int64_t num_tokens, float* y);
  void MatMuls(std::initializer_list<MatMulJob> jobs, const float* x, int64_t num_tokens);
  void Embed(std::span<const ForwardSeq> batch);
  void Head(std::span<const ForwardSeq> batch, int32_t logit_rows, std::vector<float>* logits);
  // One layer's blocks: x += attention(norm(x)), leaving norm_ffn(x) in h_
  // (attention_block.cc); x += ffn(h_) (ffn_block.cc).
  void AttentionBlock(int32_t layer, std::span<const ForwardSeq> batch, PagedKvView* kv);
  void FfnBlock(int32_t layer);
  // The per-token steps between the matrix products (norms, RoPE, residual adds, gates)
  // spread over the threads when the batch is large enough to pay for it; each token's
  // arithmetic is the same either way.
  template <typename Step>
  void PerToken(int32_t n, Step&& step) {
    const int64_t threads = pool_->num_threads();
    if (n < 4 * threads || threads == 1) {
      for (int32_t t = 0; t < n; ++t) step(t);
      return;
    }
    pool_->ParallelFor(n, std::max<int64_t>(1, n / (4 * threads)), [&](int64_t begin, int64_t end) {
      for (int64_t t = begin; t < end; ++t) step(static_cast<int32_t>(t));
    });
  }
  void Attention(int32_t layer, std::span<const ForwardSeq> batch, const PagedKvView& kv);
  void StoreKv(int32_t layer, std::span<const ForwardSeq> batch, PagedKvView* kv);
  void Rope(float* x, int32_t num_heads, int32_t pos, float base) const;

  const ModelConfig& config_;
  const ModelWeights& weights_;
  ThreadPool* pool_;
  std::vector<LayerPlans> plans_;
  std::unique_ptr<MatMulPlan> output_plan_;
  MatMulWorkspace matmul_ws_;  // the products' input in the forms their plans read
  // Per row of the batch: its sequence (index into the batch) and position.
  std::vector<int32_t> row_seq_, row_pos_;
  // Scratch, resized per call: [num_tokens, dim] row-major.
  std::vector<float> x_, h_, q_, k_, v_, attn_, ffn_gate_, ffn_up_;
  std::vector<float> attn_blocks_;  // per-block attention states when blocks are spread over threads
};

}  // namespace parley
