#include "model/transformer.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "base/check.h"
#include "kernels/ops.h"
#include "kernels/quant.h"

namespace parley {

Transformer::Transformer(const ModelConfig& config, const ModelWeights& weights, ThreadPool* pool,
                         ActivationMode mode)
    : config_(config), weights_(weights), pool_(pool) {
  auto plan = [mode](const WeightView& w) { return MakeMatMulPlan(w.matrix(), mode); };
  for (const LayerWeights& w : weights.layers) {
    plans_.push_back(LayerPlans{plan(w.wq), plan(w.wk), plan(w.wv), plan(w.wo), plan(w.w_gate), plan(w.w_up),
                                plan(w.w_down)});
  }
  output_plan_ = plan(weights.output);
}

void Transformer::MatMul(const MatMulPlan& w, const float* x, int64_t num_tokens, float* y) {
  MatMuls({MatMulJob{&w, y}}, x, num_tokens);
}

// Several products of the same input in one parallel section (Q/K/V, gate/up): fewer
// synchronisations per layer, which is what a single-token decode step is made of.
void Transformer::MatMuls(std::initializer_list<MatMulJob> jobs, const float* x, int64_t num_tokens) {
  RunMatMuls(std::span<const MatMulJob>(jobs.begin(), jobs.size()), x, num_tokens, &matmul_ws_, pool_);
}

// x = embed(tokens) * embedding_scale  [n, H]
void Transformer::Embed(std::span<const ForwardSeq> batch) {
  const ModelConfig& c = config_;
  const int32_t H = c.hidden;
  int32_t t = 0;
  for (const ForwardSeq& fs : batch) {
    for (int32_t id : fs.tokens) {
      float* x = x_.data() + static_cast<size_t>(t++) * H;
      DequantizeRow(weights_.token_embd.type, weights_.token_embd.row(id), x, H);
      if (c.embedding_scale != 1.0f) ScaleF32(x, c.embedding_scale, H);
    }
  }
}

// The final norm and the output head, only for the rows that want logits: [logit_rows, vocab].
void Transformer::Head(std::span<const ForwardSeq> batch, int32_t logit_rows, std::vector<float>* logits) {
  const ModelConfig& c = config_;
  const int32_t H = c.hidden;
  logits->resize(static_cast<size_t>(logit_rows) * c.vocab_size);
  if (logit_rows == 0) return;
  int32_t t = 0, r = 0;
  for (const ForwardSeq& fs : batch) {
    for (int32_t i = 0; i < static_cast<int32_t>(fs.tokens.size()); ++i, ++t) {
      if (i < fs.logits_from) continue;
      RmsNorm(x_.data() + static_cast<size_t>(t) * H, weights_.output_norm_f.data(),
              h_.data() + static_cast<size_t>(r++) * H, H, c.rms_eps);
    }
  }
  MatMul(*output_plan_, h_.data(), logit_rows, logits->data());
  if (c.final_logit_softcap > 0.0f) {
    const float cap = c.final_logit_softcap;
    for (float& v : *logits) v = cap * std::tanh(v / cap);
  }
}

Status Transformer::Forward(std::span<const int32_t> tokens, SequenceKv* kv, LogitRows which,
                            std::vector<float>* logits) {
  const int32_t n = static_cast<int32_t>(tokens.size());
  const int32_t start = kv->num_tokens();
  if (n == 0) return Status::InvalidArgument("nothing to compute: empty token list");
  if (start + n > kv->max_tokens()) {
    return Status::InvalidArgument("context is full: " + std::to_string(start) + " cached + " +
                                   std::to_string(n) + " new tokens exceed the context size " +
                                   std::to_string(kv->max_tokens()));
  }
  if (!kv->Reserve(n)) return Status::Error("no KV pages left for " + std::to_string(n) + " tokens");
  ForwardSeq seq{kv->seq(), tokens, start,
                 which == LogitRows::kAll ? 0 : which == LogitRows::kLast ? n - 1 : n};
  PARLEY_RETURN_IF_ERROR(Forward(std::span<const ForwardSeq>(&seq, 1), kv->cache(), logits));
  kv->Advance(n);
  return Status::Ok();
}

Status Transformer::Forward(std::span<const ForwardSeq> batch, KvCache* cache,
                            std::vector<float>* logits) {
  const ModelConfig& c = config_;
  const KvLayout& layout = cache->layout();
  if (layout.num_layers() != c.num_layers || layout.kv_dim() != c.kv_dim() || layout.head_dim() != c.head_dim) {
    return Status::Error("the KV cache was made for another model");
  }
  for (int32_t l = 0; l < c.num_layers; ++l) {
    if (layout.window(l) != c.layers[l].window) {
      return Status::Error("the KV layout's window for layer " + std::to_string(l) +
                           " differs from the model's");
    }
  }
  if (batch.empty()) return Status::InvalidArgument("nothing to compute: empty batch");
  PagedKvView kv(cache);
  row_seq_.clear();
  row_pos_.clear();
  int32_t logit_rows = 0;
  for (size_t s = 0; s < batch.size(); ++s) {
    const ForwardSeq& fs = batch[s];
    if (fs.tokens.empty()) return Status::InvalidArgument("nothing to compute: empty token list");
    if (fs.logits_from < 0 || fs.logits_from > static_cast<int32_t>(fs.tokens.size())) {
      return Status::InvalidArgument("logits_from out of range");
    }
    for (int32_t id : fs.tokens) {
      if (id < 0 || id >= c.vocab_size) {
        return Status::InvalidArgument("token id " + std::to_string(id) +
                                       " is outside the vocabulary (size " +
                                       std::to_string(c.vocab_size) + ")");
      }
    }
    for (size_t i = 0; i < fs.tokens.size(); ++i) {
      row_seq_.push_back(static_cast<int32_t>(s));
      row_pos_.push_back(fs.start + static_cast<int32_t>(i));
    }
    logit_rows += fs.num_logit_rows();
  }
  const int32_t n = static_cast<int32_t>(row_seq_.size());
  const int32_t H = c.hidden, Q = c.q_dim(), KV = c.kv_dim(), F = c.ffn_hidden;
  x_.resize(static_cast<size_t>(n) * H);
  h_.resize(static_cast<size_t>(std::max(n, logit_rows)) * std::max(H, Q));
  q_.resize(static_cast<size_t>(n) * Q);
  k_.resize(static_cast<size_t>(n) * KV);
  v_.resize(static_cast<size_t>(n) * KV);
  attn_.resize(static_cast<size_t>(n) * Q);
  ffn_gate_.resize(static_cast<size_t>(n) * F);
  ffn_up_.resize(static_cast<size_t>(n) * F);

  Embed(batch);  // x [n, H]
  for (int32_t l = 0; l < c.num_layers; ++l) {
    AttentionBlock(l, batch, &kv);
    FfnBlock(l);
  }

  Head(batch, logit_rows, logits);  // [logit_rows, vocab]
  return Status::Ok();
}

}  // namespace parley
