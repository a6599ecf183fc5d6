#include "model/transformer.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "base/check.h"
#include "kernels/attention.h"
#include "kernels/int8_matmul.h"
#include "kernels/kv_int8.h"
#include "kernels/ops.h"
#include "kernels/quant.h"

namespace parley {

Transformer::Transformer(const ModelConfig& config, const ModelWeights& weights, ThreadPool* pool,
                         ActivationMode mode)
    : config_(config), weights_(weights), pool_(pool), mode_(mode) {}

void Transformer::MatMul(const WeightView& w, const float* x, int64_t num_tokens, float* y) {
  MatMuls({MatMulJob{&w, y}}, x, num_tokens);
}

// Several products of the same input in one parallel section (Q/K/V, gate/up): fewer
// synchronisations per layer, which is what a single-token decode step is made of. The
// rows of all jobs form one index space split into chunks that never straddle two jobs.
void Transformer::MatMuls(std::initializer_list<MatMulJob> jobs, const float* x, int64_t num_tokens) {
  const int64_t threads = pool_->num_threads();
  struct Span {
    MatMulArgs args;      // f32 path
    MatMulQ8Args q8args;  // int8 path (q8args.xq != nullptr)
    I8MatMulArgs i8args;  // int8 weights (i8args.w != nullptr)
    I8F32MatMulArgs i8f32args;  // int8 weights against f32 activations (the output head)
    int64_t first_chunk, rows_per_chunk, rows;
  };
  PARLEY_CHECK(jobs.size() <= 4) << "MatMuls takes at most 4 jobs";
  // Quantize the input once per activation format the jobs need (at most two differ).
  TensorType quantized_as[2] = {TensorType::kF32, TensorType::kF32};
  auto quantized = [&](const WeightView& w) -> const uint8_t* {
    if (mode_ != ActivationMode::kQ8) return nullptr;
    const TensorType act = ActivationTypeFor(w.type);
    if (act == TensorType::kF32) return nullptr;
    for (int i = 0; i < 2; ++i) {
      if (quantized_as[i] == act) return xq_[i].data();
      if (quantized_as[i] != TensorType::kF32) continue;
      const size_t row_bytes = RowBytes(act, w.cols);
      xq_[i].resize(row_bytes * num_tokens);
      pool_->ParallelFor(num_tokens, 1, [&](int64_t b, int64_t e) {
        for (int64_t t = b; t < e; ++t) {
          QuantizeActivationRow(act, x + t * w.cols, xq_[i].data() + t * row_bytes, w.cols);
        }
      });
      quantized_as[i] = act;
      return xq_[i].data();
    }
    PARLEY_CHECK(false) << "more than two activation formats in one MatMuls call";
    return nullptr;
  };
  // int8 weights: the input quantized once to int8 (dynamic scales per block of kI8Block).
  const int64_t cols = jobs.begin()->w->cols;
  bool any_i8 = false;
  for (const MatMulJob& job : jobs) any_i8 |= job.w->i8 != nullptr && !job.w->i8->f32_activations;
  if (any_i8) {
    const int64_t stride = I8Stride(cols);
    xi8_.resize(static_cast<size_t>(stride * num_tokens));
    xi8_scale_.resize(static_cast<size_t>(stride / kI8Block * num_tokens));
    pool_->ParallelFor(num_tokens, 1, [&](int64_t b, int64_t e) {
      for (int64_t t = b; t < e; ++t) {
        QuantizeActivationI8(x + t * cols, cols, xi8_.data() + t * stride, stride,
                             xi8_scale_.data() + t * (stride / kI8Block));
      }
    });
  }
  Span spans[4];
  int num_spans = 0;
  bool i16_ready = false;
  int64_t chunks = 0;
  for (const MatMulJob& job : jobs) {
    const WeightView& w = *job.w;
    int64_t grain = std::max<int64_t>(16, w.rows / (threads * 8));
    if (w.i8 != nullptr) {
      grain = (grain + 2 * kI8Panel - 1) / (2 * kI8Panel) * (2 * kI8Panel);  // whole panel pairs
      PARLEY_CHECK(w.cols == cols) << "MatMuls jobs must share their input width";
      Span sp{};
      if (w.i8->f32_activations) {
        // The jobs share their input, so it is quantized once for all of them.
        if (!i16_ready) {
          SizeActivationsI16(*w.i8, num_tokens, &xi16_);
          pool_->ParallelFor(num_tokens, 1, [&](int64_t b, int64_t e) { QuantizeActivationsI16(*w.i8, x, cols, b, e, &xi16_); });
          i16_ready = true;
        }
        sp.i8f32args = I8F32MatMulArgs{w.i8, &xi16_, job.y, w.rows};
      } else {
        sp.i8args = I8MatMulArgs{w.i8, xi8_.data(), I8Stride(cols), xi8_scale_.data(), job.y, w.rows, num_tokens};
      }
      sp.first_chunk = chunks;
      sp.rows_per_chunk = grain;
      sp.rows = w.rows;
      spans[num_spans++] = sp;
      chunks += (w.rows + grain - 1) / grain;
      continue;
    }
    const uint8_t* xq = quantized(w);
    const size_t xq_row_bytes = xq ? RowBytes(ActivationTypeFor(w.type), w.cols) : 0;
    spans[num_spans++] =
        Span{MatMulArgs{w.type, w.data, w.row_bytes, w.cols, x, w.cols, job.y, w.rows, num_tokens},
             MatMulQ8Args{w.type, w.data, w.row_bytes, w.cols, xq, xq_row_bytes, job.y, w.rows, num_tokens},
             I8MatMulArgs{}, I8F32MatMulArgs{}, chunks, grain, w.rows};
    chunks += (w.rows + grain - 1) / grain;
  }
  pool_->ParallelFor(chunks, 1, [&](int64_t begin, int64_t end) {
    for (int64_t c = begin; c < end; ++c) {
      int i = num_spans - 1;
      while (spans[i].first_chunk > c) --i;
      const Span& sp = spans[i];
      const int64_t r0 = (c - sp.first_chunk) * sp.rows_per_chunk;
      const int64_t r1 = std::min(sp.rows, r0 + sp.rows_per_chunk);
      if (sp.i8args.w != nullptr) {
        MatMulRowsI8(sp.i8args, r0, r1);
      } else if (sp.i8f32args.w != nullptr) {
        MatMulRowsI8F32(sp.i8f32args, r0, r1);
      } else if (sp.q8args.xq != nullptr) {
        MatMulRowsQ8(sp.q8args, r0, r1);
      } else {
        MatMulRows(sp.args, r0, r1);
      }
    }
  });
}

// Rotates each head of x ([num_heads, head_dim]) for position `pos`. The angles follow
// ggml's recurrence (theta_i = pos * base^(-2i/d), computed by repeated multiplication in
// f32) so results track llama.cpp's closely.
void Transformer::Rope(float* x, int32_t num_heads, int32_t pos, float base) const {
  const int32_t d = config_.head_dim;
  const float theta_scale = std::pow(base, -2.0f / static_cast<float>(config_.rope_dims));
  float cos_sin[2 * 512];
  PARLEY_CHECK(d <= 1024);
  float theta = static_cast<float>(pos);
  for (int32_t i = 0; i < d / 2; ++i) {
    cos_sin[2 * i] = std::cos(theta);
    cos_sin[2 * i + 1] = std::sin(theta);
    theta *= theta_scale;
  }
  for (int32_t h = 0; h < num_heads; ++h) {
    float* v = x + static_cast<size_t>(h) * d;
    for (int32_t i = 0; i < d / 2; ++i) {
      // NEOX pairs (i, i + d/2); NORMAL pairs (2i, 2i + 1).
      int32_t a = config_.rope_style == RopeStyle::kNeox ? i : 2 * i;
      int32_t b = config_.rope_style == RopeStyle::kNeox ? i + d / 2 : 2 * i + 1;
      float c = cos_sin[2 * i], s = cos_sin[2 * i + 1];
      float x0 = v[a], x1 = v[b];
      v[a] = x0 * c - x1 * s;
      v[b] = x0 * s + x1 * c;
    }
  }
}

// Writes this batch's K/V rows of an owner layer into the sequences' pages: f32 as is,
// f16 rounded, int8 quantized per group of 32 values (kernels/kv_int8.h). Each row depends
// only on its own floats, so the pages hold the same bytes however the batch was formed.
void Transformer::StoreKv(int32_t layer, std::span<const ForwardSeq> batch, KvCache* cache) {
  const int32_t kv_dim = config_.kv_dim();
  const KvDtype dtype = cache->dtype();
  const int32_t n = static_cast<int32_t>(row_seq_.size());
  for (int32_t t = 0; t < n; ++t) {
    const SeqKv& seq = *batch[row_seq_[t]].kv;
    const float* k = k_.data() + static_cast<size_t>(t) * kv_dim;
    const float* v = v_.data() + static_cast<size_t>(t) * kv_dim;
    uint8_t* kd = cache->k_row(seq, layer, row_pos_[t]);
    uint8_t* vd = cache->v_row(seq, layer, row_pos_[t]);
    switch (dtype) {
      case KvDtype::kF32:
        std::memcpy(kd, k, sizeof(float) * kv_dim);
        std::memcpy(vd, v, sizeof(float) * kv_dim);
        break;
      case KvDtype::kF16:
        QuantizeRow(TensorType::kF16, k, kd, kv_dim);
        QuantizeRow(TensorType::kF16, v, vd, kv_dim);
        break;
      case KvDtype::kI8:
        QuantizeKvRowI8(k, config_.num_kv_heads, config_.head_dim, kd);
        QuantizeKvRowI8(v, config_.num_kv_heads, config_.head_dim, vd);
        break;
    }
  }
}

// attn_[t] = softmax(q_t . K^T) V over the keys this layer lets row t's position p see:
// [0, p] for global layers, [p - window + 1, p] for sliding ones, all read from the
// sequence's pages (this batch's K/V were stored there first; a layer that shares K/V
// reads its owner's).
// Attention per (row, KV head) unit: the query heads sharing the KV head go together
// (kernels/attention.h), over blocks of kAttendBlock positions from the window's start.
// Every unit computes the same per-block states and merges them in the same order whether
// one job takes the whole unit (many units: prefill, batched decode) or the blocks are
// spread over the threads (few units: a single decode), so the result does not depend on
// the batch.
void Transformer::Attention(int32_t layer, std::span<const ForwardSeq> batch, KvCache* cache) {
  const int32_t d = config_.head_dim;
  const int32_t heads = config_.num_heads;
  const int32_t kv_heads = config_.num_kv_heads;
  const int32_t group = heads / kv_heads;
  const int32_t window = config_.layers[layer].window;
  const KvDtype dtype = cache->dtype();
  const KvRowFormat format = dtype == KvDtype::kI8    ? KvRowFormat::kI8
                             : dtype == KvDtype::kF16 ? KvRowFormat::kF16
                                                      : KvRowFormat::kF32;
  const size_t head_bytes = KvRowBytes(dtype, d, d);  // one KV head's part of a row (int8: values, scales)
  const int64_t n = static_cast<int64_t>(row_seq_.size());
  const int64_t units = n * kv_heads;
  auto first_pos = [&](int64_t t) { return window > 0 ? std::max(0, row_pos_[t] - window + 1) : 0; };
  auto num_blocks = [&](int64_t t) { return (row_pos_[t] - first_pos(t) + kAttendBlock) / kAttendBlock; };
  // Block b of unit u: its state at acc/max/sum (group * d, group, group floats).
  const int32_t page_size = cache->page_size();
  const size_t row_bytes = cache->pool(cache->layout().group_of(layer)).shape().row_bytes();
  auto run_block = [&](int64_t u, int32_t b, float* scores, float* acc, float* max, float* sum) {
    const int64_t t = u / kv_heads;
    const int32_t kh = static_cast<int32_t>(u % kv_heads);
    const SeqKv& seq = *batch[row_seq_[t]].kv;
    const int32_t lo = first_pos(t) + b * kAttendBlock;
    const int32_t len = std::min(kAttendBlock, row_pos_[t] + 1 - lo);
    const uint8_t* k[kAttendBlock];
    const uint8_t* v[kAttendBlock];
    const size_t off = static_cast<size_t>(kh) * head_bytes;
    for (int32_t j = 0; j < len;) {  // one page lookup per run of positions in a page
      const int32_t pos = lo + j;
      const int32_t run = std::min(len - j, page_size - pos % page_size);
      const uint8_t* kr = cache->k_row(seq, layer, pos) + off;
      const uint8_t* vr = cache->v_row(seq, layer, pos) + off;
      for (int32_t i = 0; i < run; ++i, ++j) {
        k[j] = kr + i * row_bytes;
        v[j] = vr + i * row_bytes;
      }
    }
    AttendBlockArgs a;
    a.q = q_.data() + (static_cast<size_t>(t) * heads + static_cast<size_t>(kh) * group) * d;
    a.heads = group;
    a.d = d;
    a.k = k;
    a.v = v;
    a.len = len;
    a.format = format;
    AttendBlock(a, scores, acc, max, sum);
  };
  auto out_of = [&](int64_t u) {
    return attn_.data() + (static_cast<size_t>(u / kv_heads) * heads + static_cast<size_t>(u % kv_heads) * group) * d;
  };
  const size_t state = static_cast<size_t>(group) * (d + 2);  // one block's acc, max, sum
  if (units >= 2 * static_cast<int64_t>(pool_->num_threads())) {
    pool_->ParallelFor(units, 1, [&](int64_t begin, int64_t end) {
      std::vector<float> scores(static_cast<size_t>(group) * kAttendBlock), st;
      for (int64_t u = begin; u < end; ++u) {
        const int32_t blocks = num_blocks(u / kv_heads);
        st.resize(state * blocks);
        float* acc = st.data();
        float* max = acc + static_cast<size_t>(blocks) * group * d;
        float* sum = max + static_cast<size_t>(blocks) * group;
        for (int32_t b = 0; b < blocks; ++b) {
          run_block(u, b, scores.data(), acc + static_cast<size_t>(b) * group * d, max + b * group, sum + b * group);
        }
        AttendMerge(blocks, group, d, acc, max, sum, out_of(u));
      }
    });
    return;
  }
  // Few units: one job per block.
  std::vector<int64_t> first_job(units + 1, 0);
  for (int64_t u = 0; u < units; ++u) first_job[u + 1] = first_job[u] + num_blocks(u / kv_heads);
  const int64_t jobs = first_job[units];
  attn_blocks_.resize(state * jobs);
  float* acc_all = attn_blocks_.data();
  float* max_all = acc_all + static_cast<size_t>(jobs) * group * d;
  float* sum_all = max_all + static_cast<size_t>(jobs) * group;
  pool_->ParallelFor(jobs, 1, [&](int64_t begin, int64_t end) {
    std::vector<float> scores(static_cast<size_t>(group) * kAttendBlock);
    for (int64_t job = begin; job < end; ++job) {
      const int64_t u = std::upper_bound(first_job.begin(), first_job.end(), job) - first_job.begin() - 1;
      run_block(u, static_cast<int32_t>(job - first_job[u]), scores.data(), acc_all + job * group * d,
                max_all + job * group, sum_all + job * group);
    }
  });
  for (int64_t u = 0; u < units; ++u) {
    const int64_t j0 = first_job[u];
    AttendMerge(static_cast<int32_t>(first_job[u + 1] - j0), group, d, acc_all + j0 * group * d,
                max_all + j0 * group, sum_all + j0 * group, out_of(u));
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

  // x = embed(tokens) * embedding_scale  [n, H]
  {
    int32_t t = 0;
    for (const ForwardSeq& fs : batch) {
      for (int32_t id : fs.tokens) {
        float* x = x_.data() + static_cast<size_t>(t++) * H;
        DequantizeRow(weights_.token_embd.type, weights_.token_embd.row(id), x, H);
        if (c.embedding_scale != 1.0f) ScaleF32(x, c.embedding_scale, H);
      }
    }
  }

  // The per-token steps between the matrix products (norms, RoPE, residual adds, gates)
  // spread over the threads when the batch is large enough to pay for it; each token's
  // arithmetic is the same either way.
  const int64_t threads = pool_->num_threads();
  auto per_token = [&](auto&& step) {
    if (n < 4 * threads || threads == 1) {
      for (int32_t t = 0; t < n; ++t) step(t);
      return;
    }
    pool_->ParallelFor(n, std::max<int64_t>(1, n / (4 * threads)), [&](int64_t begin, int64_t end) {
      for (int64_t t = begin; t < end; ++t) step(static_cast<int32_t>(t));
    });
  };

  for (int32_t l = 0; l < c.num_layers; ++l) {
    const LayerWeights& w = weights_.layers[l];
    const bool owner = layout.is_owner(l);
    per_token([&](int32_t t) {
      RmsNorm(x_.data() + t * H, w.attn_norm_f.data(), h_.data() + t * H, H, c.rms_eps);
    });
    // q [n, heads * d], k and v [n, kv_heads * d] (a layer sharing K/V computes only q)
    if (owner) {
      MatMuls({{&w.wq, q_.data()}, {&w.wk, k_.data()}, {&w.wv, v_.data()}}, h_.data(), n);
    } else {
      MatMul(w.wq, h_.data(), n, q_.data());
    }
    per_token([&](int32_t t) {
      float* q = q_.data() + static_cast<size_t>(t) * Q;
      float* k = k_.data() + static_cast<size_t>(t) * KV;
      if (c.qk_norm) {
        for (int32_t h = 0; h < c.num_heads; ++h) {
          RmsNorm(q + h * c.head_dim, w.q_norm_f.data(), q + h * c.head_dim, c.head_dim, c.rms_eps);
        }
        for (int32_t h = 0; owner && h < c.num_kv_heads; ++h) {
          RmsNorm(k + h * c.head_dim, w.k_norm_f.data(), k + h * c.head_dim, c.head_dim, c.rms_eps);
        }
      }
      Rope(q, c.num_heads, row_pos_[t], c.layers[l].rope_base);
      if (owner) Rope(k, c.num_kv_heads, row_pos_[t], c.layers[l].rope_base);
      ScaleF32(q, c.attention_scale, Q);
    });
    if (owner) StoreKv(l, batch, cache);
    Attention(l, batch, cache);
    MatMul(w.wo, attn_.data(), n, h_.data());  // [n, H]
    per_token([&](int32_t t) {
      float* a = h_.data() + static_cast<size_t>(t) * H;
      if (c.post_norms) RmsNorm(a, w.post_attn_norm_f.data(), a, H, c.rms_eps);
      AddF32(a, x_.data() + static_cast<size_t>(t) * H, H);
      RmsNorm(x_.data() + static_cast<size_t>(t) * H, w.ffn_norm_f.data(), a, H, c.rms_eps);
    });
    MatMuls({{&w.w_gate, ffn_gate_.data()}, {&w.w_up, ffn_up_.data()}}, h_.data(), n);  // [n, F] x2
    per_token([&](int32_t t) {
      float* g = ffn_gate_.data() + static_cast<size_t>(t) * F;
      const float* u = ffn_up_.data() + static_cast<size_t>(t) * F;
      if (c.activation == Activation::kGeluTanh) {
        GeluTanhMul(g, u, F);
      } else {
        SiluMul(g, u, F);
      }
    });
    MatMul(w.w_down, ffn_gate_.data(), n, h_.data());  // [n, H]
    per_token([&](int32_t t) {
      float* f = h_.data() + static_cast<size_t>(t) * H;
      if (c.post_norms) RmsNorm(f, w.post_ffn_norm_f.data(), f, H, c.rms_eps);
      AddF32(f, x_.data() + static_cast<size_t>(t) * H, H);
    });
  }

  // The output head only for the rows that want logits: [logit_rows, vocab].
  logits->resize(static_cast<size_t>(logit_rows) * c.vocab_size);
  if (logit_rows == 0) return Status::Ok();
  {
    int32_t t = 0, r = 0;
    for (const ForwardSeq& fs : batch) {
      for (int32_t i = 0; i < static_cast<int32_t>(fs.tokens.size()); ++i, ++t) {
        if (i < fs.logits_from) continue;
        RmsNorm(x_.data() + static_cast<size_t>(t) * H, weights_.output_norm_f.data(),
                h_.data() + static_cast<size_t>(r++) * H, H, c.rms_eps);
      }
    }
  }
  MatMul(weights_.output, h_.data(), logit_rows, logits->data());
  if (c.final_logit_softcap > 0.0f) {
    const float cap = c.final_logit_softcap;
    for (float& v : *logits) v = cap * std::tanh(v / cap);
  }
  return Status::Ok();
}

}  // namespace parley
