// The attention block of one layer: x += attention(norm(x)) (Gemma: normed again before
// the residual add), leaving norm_ffn(x) in h_ for the feed-forward block.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <vector>

#include "base/check.h"
#include "kernels/attention.h"
#include "kernels/ops.h"
#include "model/transformer.h"

namespace parley {

void Transformer::AttentionBlock(int32_t l, std::span<const ForwardSeq> batch, PagedKvView* kv) {
  const ModelConfig& c = config_;
  const int32_t n = static_cast<int32_t>(row_seq_.size());
  const int32_t H = c.hidden, Q = c.q_dim(), KV = c.kv_dim();
  const LayerWeights& w = weights_.layers[l];
  const LayerPlans& p = plans_[l];
  const bool owner = kv->stores(l);
  PerToken(n, [&](int32_t t) {
    RmsNorm(x_.data() + t * H, w.attn_norm_f.data(), h_.data() + t * H, H, c.rms_eps);
  });
  // q [n, heads * d], k and v [n, kv_heads * d] (a layer sharing K/V computes only q)
  if (owner) {
    MatMuls({{p.wq.get(), q_.data()}, {p.wk.get(), k_.data()}, {p.wv.get(), v_.data()}}, h_.data(), n);
  } else {
    MatMul(*p.wq, h_.data(), n, q_.data());
  }
  PerToken(n, [&](int32_t t) {
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
  if (owner) StoreKv(l, batch, kv);
  Attention(l, batch, *kv);
  MatMul(*p.wo, attn_.data(), n, h_.data());  // [n, H]
  PerToken(n, [&](int32_t t) {
    float* a = h_.data() + static_cast<size_t>(t) * H;
    if (c.post_norms) RmsNorm(a, w.post_attn_norm_f.data(), a, H, c.rms_eps);
    AddF32(a, x_.data() + static_cast<size_t>(t) * H, H);
    RmsNorm(x_.data() + static_cast<size_t>(t) * H, w.ffn_norm_f.data(), a, H, c.rms_eps);
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

// Writes this batch's K/V rows of an owner layer into the sequences' pages, in the view's
// row format: the pages hold the same bytes however the batch was formed.
void Transformer::StoreKv(int32_t layer, std::span<const ForwardSeq> batch, PagedKvView* kv) {
  const int32_t kv_dim = config_.kv_dim();
  const int32_t n = static_cast<int32_t>(row_seq_.size());
  for (int32_t t = 0; t < n; ++t) {
    kv->Store(*batch[row_seq_[t]].kv, layer, row_pos_[t], k_.data() + static_cast<size_t>(t) * kv_dim,
              v_.data() + static_cast<size_t>(t) * kv_dim);
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
void Transformer::Attention(int32_t layer, std::span<const ForwardSeq> batch, const PagedKvView& kv) {
  const int32_t d = config_.head_dim;
  const int32_t heads = config_.num_heads;
  const int32_t kv_heads = config_.num_kv_heads;
  const int32_t group = heads / kv_heads;
  const int32_t window = config_.layers[layer].window;
  const int64_t n = static_cast<int64_t>(row_seq_.size());
  const int64_t units = n * kv_heads;
  auto first_pos = [&](int64_t t) { return window > 0 ? std::max(0, row_pos_[t] - window + 1) : 0; };
  auto num_blocks = [&](int64_t t) { return (row_pos_[t] - first_pos(t) + kAttendBlock) / kAttendBlock; };
  // Block b of unit u: its state at acc/max/sum (group * d, group, group floats).
  auto run_block = [&](int64_t u, int32_t b, float* scores, float* acc, float* max, float* sum) {
    const int64_t t = u / kv_heads;
    const int32_t kh = static_cast<int32_t>(u % kv_heads);
    const SeqKv& seq = *batch[row_seq_[t]].kv;
    const int32_t lo = first_pos(t) + b * kAttendBlock;
    const int32_t len = std::min(kAttendBlock, row_pos_[t] + 1 - lo);
    const uint8_t* k[kAttendBlock];
    const uint8_t* v[kAttendBlock];
    kv.HeadRows(seq, layer, kh, lo, len, k, v);
    AttendBlockArgs a;
    a.q = q_.data() + (static_cast<size_t>(t) * heads + static_cast<size_t>(kh) * group) * d;
    a.heads = group;
    a.d = d;
    a.k = k;
    a.v = v;
    a.len = len;
    a.format = kv.format();
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

}  // namespace parley
