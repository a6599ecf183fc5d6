// Forward pass on tiny random models of both architectures, against a naive reference
// written here from the architecture description (dense f32, explicit masks), plus
// invariance: whole prompt == chunked == token by token.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "gguf/testing/tiny_model.h"
#include "kernels/quant.h"
#include "model/model.h"
#include "model/transformer.h"

namespace parley {
namespace {

using testing::TinyModelSpec;

std::vector<float> Dense(const WeightView& w) { return w.ToF32(); }  // [rows, cols]

void NormRef(const float* x, const std::vector<float>& w, float* y, int n, float eps) {
  double ss = 0;
  for (int i = 0; i < n; ++i) ss += double(x[i]) * x[i];
  float s = 1.0f / std::sqrt(float(ss / n) + eps);
  for (int i = 0; i < n; ++i) y[i] = x[i] * s * w[i];
}

std::vector<float> MatVecRef(const std::vector<float>& w, int rows, int cols, const float* x) {
  std::vector<float> y(rows);
  for (int r = 0; r < rows; ++r) {
    double acc = 0;
    for (int c = 0; c < cols; ++c) acc += double(w[size_t(r) * cols + c]) * x[c];
    y[r] = float(acc);
  }
  return y;
}

void RopeRef(float* v, int d, int pos, double base, bool neox) {
  for (int i = 0; i < d / 2; ++i) {
    double theta = pos * std::pow(base, -2.0 * i / d);
    int a = neox ? i : 2 * i, b = neox ? i + d / 2 : 2 * i + 1;
    double x0 = v[a], x1 = v[b];
    v[a] = float(x0 * std::cos(theta) - x1 * std::sin(theta));
    v[b] = float(x0 * std::sin(theta) + x1 * std::cos(theta));
  }
}

// Logits of every position of `tokens`, computed the slow obvious way.
// owners[l] (optional): the layer whose K/V layer l attends to (cross-layer KV sharing).
std::vector<std::vector<float>> ReferenceForward(const Model& m, const std::vector<int32_t>& tokens,
                                                 std::vector<int32_t> owners = {}) {
  const ModelConfig& c = m.config();
  const ModelWeights& W = m.weights();
  const int n = tokens.size(), H = c.hidden, d = c.head_dim, F = c.ffn_hidden;
  std::vector<float> embd = Dense(W.token_embd);
  std::vector<std::vector<float>> x(n, std::vector<float>(H));
  for (int t = 0; t < n; ++t) {
    for (int i = 0; i < H; ++i) x[t][i] = embd[size_t(tokens[t]) * H + i] * c.embedding_scale;
  }
  if (owners.empty()) {
    for (int l = 0; l < c.num_layers; ++l) owners.push_back(l);
  }
  std::vector<std::vector<std::vector<float>>> layer_k(c.num_layers), layer_v(c.num_layers);
  for (int l = 0; l < c.num_layers; ++l) {
    const LayerWeights& L = W.layers[l];
    auto wq = Dense(L.wq), wk = Dense(L.wk), wv = Dense(L.wv), wo = Dense(L.wo);
    auto wg = Dense(L.w_gate), wu = Dense(L.w_up), wd = Dense(L.w_down);
    std::vector<std::vector<float>> q(n), k(n), v(n);
    for (int t = 0; t < n; ++t) {
      std::vector<float> h(H);
      NormRef(x[t].data(), L.attn_norm_f, h.data(), H, c.rms_eps);
      q[t] = MatVecRef(wq, c.q_dim(), H, h.data());
      k[t] = MatVecRef(wk, c.kv_dim(), H, h.data());
      v[t] = MatVecRef(wv, c.kv_dim(), H, h.data());
      for (int hh = 0; hh < c.num_heads; ++hh) {
        if (c.qk_norm) NormRef(&q[t][hh * d], L.q_norm_f, &q[t][hh * d], d, c.rms_eps);
        RopeRef(&q[t][hh * d], d, t, c.layers[l].rope_base, c.rope_style == RopeStyle::kNeox);
      }
      for (int hh = 0; hh < c.num_kv_heads; ++hh) {
        if (c.qk_norm) NormRef(&k[t][hh * d], L.k_norm_f, &k[t][hh * d], d, c.rms_eps);
        RopeRef(&k[t][hh * d], d, t, c.layers[l].rope_base, c.rope_style == RopeStyle::kNeox);
      }
    }
    layer_k[l] = k;
    layer_v[l] = v;
    if (owners[l] != l) {  // attend to the owner layer's K/V instead
      k = layer_k[owners[l]];
      v = layer_v[owners[l]];
    }
    for (int t = 0; t < n; ++t) {
      std::vector<float> o(c.q_dim());
      for (int hh = 0; hh < c.num_heads; ++hh) {
        int kvh = hh / (c.num_heads / c.num_kv_heads);
        std::vector<double> s(n, -INFINITY);
        double mx = -INFINITY;
        for (int j = 0; j <= t; ++j) {
          bool visible = c.layers[l].window == 0 || t - j < c.layers[l].window;
          if (!visible) continue;
          double dot = 0;
          for (int i = 0; i < d; ++i) dot += double(q[t][hh * d + i]) * k[j][kvh * d + i];
          s[j] = dot * c.attention_scale;
          mx = std::max(mx, s[j]);
        }
        double sum = 0;
        for (int j = 0; j <= t; ++j) sum += (s[j] = std::exp(s[j] - mx));
        for (int j = 0; j <= t; ++j) {
          for (int i = 0; i < d; ++i) o[hh * d + i] += float(s[j] / sum * v[j][kvh * d + i]);
        }
      }
      std::vector<float> a = MatVecRef(wo, H, c.q_dim(), o.data());
      if (c.post_norms) NormRef(a.data(), L.post_attn_norm_f, a.data(), H, c.rms_eps);
      for (int i = 0; i < H; ++i) x[t][i] += a[i];
    }
    for (int t = 0; t < n; ++t) {
      std::vector<float> h(H);
      NormRef(x[t].data(), L.ffn_norm_f, h.data(), H, c.rms_eps);
      auto g = MatVecRef(wg, F, H, h.data()), u = MatVecRef(wu, F, H, h.data());
      for (int i = 0; i < F; ++i) {
        double z = g[i];
        double act = c.activation == Activation::kSilu
                         ? z / (1 + std::exp(-z))
                         : 0.5 * z * (1 + std::tanh(0.7978845608028654 * (z + 0.044715 * z * z * z)));
        g[i] = float(act * u[i]);
      }
      auto f = MatVecRef(wd, H, F, g.data());
      if (c.post_norms) NormRef(f.data(), L.post_ffn_norm_f, f.data(), H, c.rms_eps);
      for (int i = 0; i < H; ++i) x[t][i] += f[i];
    }
  }
  std::vector<float> head = Dense(W.output);
  std::vector<std::vector<float>> logits(n);
  for (int t = 0; t < n; ++t) {
    std::vector<float> h(H);
    NormRef(x[t].data(), W.output_norm_f, h.data(), H, c.rms_eps);
    logits[t] = MatVecRef(head, c.vocab_size, H, h.data());
  }
  return logits;
}

std::unique_ptr<Model> LoadTiny(const TinyModelSpec& spec) {
  std::string path = testing::TempModelPath("tiny_" + spec.arch);
  Status st = testing::WriteTinyModel(spec, path);
  EXPECT_TRUE(st.ok()) << st.message();
  auto m = Model::Load(path);
  EXPECT_TRUE(m.ok()) << m.status().message();
  std::remove(path.c_str());
  return m.ok() ? std::move(m).value() : nullptr;
}

std::vector<int32_t> SomeTokens(int n, int vocab, uint32_t seed) {
  std::vector<int32_t> t(n);
  for (int i = 0; i < n; ++i) t[i] = int32_t((seed + 7919u * i * i + 31u * i) % vocab);
  return t;
}

float MaxAbsDiff(const float* a, const float* b, int n) {
  float m = 0;
  for (int i = 0; i < n; ++i) m = std::max(m, std::abs(a[i] - b[i]));
  return m;
}

struct Case {
  const char* name;
  TinyModelSpec spec;
};

class TinyModelTest : public ::testing::TestWithParam<Case> {};

TEST_P(TinyModelTest, MatchesReferenceForward) {
  auto model = LoadTiny(GetParam().spec);
  ASSERT_NE(model, nullptr);
  const int n = 21, V = model->config().vocab_size;
  auto tokens = SomeTokens(n, V, 5);
  auto ref = ReferenceForward(*model, tokens);
  ThreadPool pool(2);
  Transformer tf(model->config(), model->weights(), &pool);
  SequenceKv kv(model->config(), 64);
  std::vector<float> logits;
  ASSERT_TRUE(tf.Forward(tokens, &kv, LogitRows::kAll, &logits).ok());
  for (int t = 0; t < n; ++t) {
    EXPECT_LT(MaxAbsDiff(logits.data() + size_t(t) * V, ref[t].data(), V), 2e-3f) << "position " << t;
  }
}

TEST_P(TinyModelTest, ChunkedAndStepwiseEqualWhole) {
  auto model = LoadTiny(GetParam().spec);
  ASSERT_NE(model, nullptr);
  const int n = 40, V = model->config().vocab_size;
  auto tokens = SomeTokens(n, V, 11);
  ThreadPool pool(2);
  Transformer tf(model->config(), model->weights(), &pool);
  SequenceKv whole_kv(model->config(), 64);
  std::vector<float> whole;
  ASSERT_TRUE(tf.Forward(tokens, &whole_kv, LogitRows::kAll, &whole).ok());
  for (int chunk : {1, 3, 16}) {
    SequenceKv kv(model->config(), 64);
    std::vector<float> out;
    for (int s = 0; s < n; s += chunk) {
      int m = std::min(chunk, n - s);
      std::span<const int32_t> part(tokens.data() + s, m);
      ASSERT_TRUE(tf.Forward(part, &kv, LogitRows::kAll, &out).ok());
      for (int t = 0; t < m; ++t) {
        EXPECT_EQ(0, std::memcmp(out.data() + size_t(t) * V, whole.data() + size_t(s + t) * V, V * sizeof(float)))
            << "chunk " << chunk << " position " << s + t << ": max diff "
            << MaxAbsDiff(out.data() + size_t(t) * V, whole.data() + size_t(s + t) * V, V);
      }
    }
    EXPECT_EQ(kv.num_tokens(), n);
  }
}

// The largest logit difference between 40 positions computed at once with an f32 KV cache
// and in chunks of 9 with a `dtype` one (every position reads its keys back from the
// pages, windows included).
float WorstDiffAgainstF32KvCache(const Model& model, KvDtype dtype) {
  const int n = 40, V = model.config().vocab_size;
  auto tokens = SomeTokens(n, V, 17);
  ThreadPool pool(2);
  Transformer tf(model.config(), model.weights(), &pool);
  SequenceKv f32(model.config(), 64), other(model.config(), 64, dtype);
  std::vector<float> a, b;
  EXPECT_TRUE(tf.Forward(tokens, &f32, LogitRows::kAll, &a).ok());
  float worst = 0;
  for (int s = 0; s < n; s += 9) {
    std::span<const int32_t> part(tokens.data() + s, std::min(9, n - s));
    EXPECT_TRUE(tf.Forward(part, &other, LogitRows::kAll, &b).ok());
    for (size_t t = 0; t < part.size(); ++t) {
      worst = std::max(worst, MaxAbsDiff(b.data() + t * V, a.data() + (s + t) * V, V));
    }
  }
  return worst;
}

// An f16 KV cache rounds each K/V element to 11 significant bits: logits move a little,
// and every position still gets them from the right pages (chunked, windows included).
TEST_P(TinyModelTest, F16KvCacheStaysCloseToF32) {
  auto model = LoadTiny(GetParam().spec);
  ASSERT_NE(model, nullptr);
  SequenceKv f32(model->config(), 64), f16(model->config(), 64, KvDtype::kF16);
  EXPECT_LT(f16.cache()->pool(0).shape().page_bytes() * 2, f32.cache()->pool(0).shape().page_bytes() + 1);
  const float worst = WorstDiffAgainstF32KvCache(*model, KvDtype::kF16);
  EXPECT_LT(worst, 2e-2f);
  EXPECT_GT(worst, 0.0f);  // the cache really is f16
}

// An int8 KV cache keeps each value to within half a step of 1/127 of the largest value of
// its group of 32 (f16: 2^-11 of each value): logits move more than with f16, still little, and the rows
// come from the right pages and heads.
TEST_P(TinyModelTest, Int8KvCacheStaysCloseToF32) {
  auto model = LoadTiny(GetParam().spec);
  ASSERT_NE(model, nullptr);
  SequenceKv f32(model->config(), 64), i8(model->config(), 64, KvDtype::kI8);
  const ModelConfig& c = model->config();
  EXPECT_EQ(i8.cache()->pool(0).shape().row_bytes(), static_cast<size_t>(c.num_kv_heads) * (c.head_dim + 2 * ((c.head_dim + 31) / 32)));
  EXPECT_LT(i8.cache()->pool(0).shape().page_bytes() * 3, f32.cache()->pool(0).shape().page_bytes());
  const float worst = WorstDiffAgainstF32KvCache(*model, KvDtype::kI8);
  EXPECT_LT(worst, 0.3f);  // seen: 0.05 (Gemma) to 0.18 (Llama), ~20x f16's
  EXPECT_GT(worst, 0.0f);  // the cache really is int8
}

TEST_P(TinyModelTest, LastRowLogitsEqualAllRows) {
  auto model = LoadTiny(GetParam().spec);
  ASSERT_NE(model, nullptr);
  const int V = model->config().vocab_size;
  auto tokens = SomeTokens(9, V, 3);
  ThreadPool pool(1);
  Transformer tf(model->config(), model->weights(), &pool);
  SequenceKv a(model->config(), 16), b(model->config(), 16);
  std::vector<float> all, last;
  ASSERT_TRUE(tf.Forward(tokens, &a, LogitRows::kAll, &all).ok());
  ASSERT_TRUE(tf.Forward(tokens, &b, LogitRows::kLast, &last).ok());
  ASSERT_EQ(last.size(), size_t(V));
  EXPECT_EQ(0, std::memcmp(last.data(), all.data() + size_t(8) * V, V * sizeof(float)))
      << "max diff " << MaxAbsDiff(last.data(), all.data() + size_t(8) * V, V);
}

TEST_P(TinyModelTest, BadInputIsAnErrorAndChangesNothing) {
  auto model = LoadTiny(GetParam().spec);
  ASSERT_NE(model, nullptr);
  ThreadPool pool(1);
  Transformer tf(model->config(), model->weights(), &pool);
  SequenceKv kv(model->config(), 8);
  std::vector<float> logits;
  std::vector<int32_t> bad = {1, model->config().vocab_size};
  EXPECT_FALSE(tf.Forward(bad, &kv, LogitRows::kLast, &logits).ok());
  EXPECT_FALSE(tf.Forward({}, &kv, LogitRows::kLast, &logits).ok());
  std::vector<int32_t> too_long(9, 1);
  EXPECT_FALSE(tf.Forward(too_long, &kv, LogitRows::kLast, &logits).ok());
  EXPECT_EQ(kv.num_tokens(), 0);
}

// Cross-layer KV sharing (Character.AI style), from the model file's
// <arch>.attention.kv_owner_layers and from a sharing map given at run time: the sharing
// layers own no pages, and the logits equal the reference forward with the same sharing.
TEST(TinyModelSharingTest, SharedKvMatchesReferenceAndAllocatesNothing) {
  TinyModelSpec spec = testing::SmallGemmaSpec(6, 6);  // layers 2 and 5 global
  spec.kv_owners = {0, 0, 2, 3, 3, 2};  // 1 <- 0 and 4 <- 3 (window); 5 <- 2 (global)
  auto model = LoadTiny(spec);
  ASSERT_NE(model, nullptr);
  EXPECT_EQ(model->config().kv_owners, spec.kv_owners);
  const int n = 30, V = model->config().vocab_size;
  auto tokens = SomeTokens(n, V, 13);
  auto ref = ReferenceForward(*model, tokens, spec.kv_owners);
  auto plain = ReferenceForward(*model, tokens);
  ThreadPool pool(2);
  Transformer tf(model->config(), model->weights(), &pool);
  for (const std::string& sharing : {std::string(""), std::string("1:0,4:3,5:2")}) {
    // "" takes the file's map; the explicit map is the same one.
    SequenceKv kv(model->config(), 64, KvDtype::kF32, sharing);
    const KvLayout& layout = kv.cache()->layout();
    ASSERT_EQ(layout.num_groups(), 2);
    EXPECT_EQ(layout.num_owner_layers(), 3);
    for (const KvGroup& g : layout.groups()) {
      for (int32_t l : g.owner_layers) EXPECT_TRUE(l == 0 || l == 2 || l == 3) << l;
    }
    std::vector<float> logits;
    for (int s = 0; s < n; s += 7) {  // chunked, so shared K/V also come from pages
      std::span<const int32_t> part(tokens.data() + s, std::min(7, n - s));
      ASSERT_TRUE(tf.Forward(part, &kv, LogitRows::kAll, &logits).ok());
      for (size_t t = 0; t < part.size(); ++t) {
        EXPECT_LT(MaxAbsDiff(logits.data() + t * V, ref[s + t].data(), V), 2e-3f) << s + t;
      }
    }
  }
  // Sharing really changes the model (the test would be vacuous otherwise).
  EXPECT_GT(MaxAbsDiff(ref[n - 1].data(), plain[n - 1].data(), V), 1e-2f);
}

TinyModelSpec Gemma(int window, TensorType wt) {
  TinyModelSpec s = testing::SmallGemmaSpec(3, window);
  s.weight_type = wt;
  s.embed_type = TensorType::kQ8_0;
  return s;
}

TinyModelSpec Llama(TensorType wt) {
  TinyModelSpec s;
  s.arch = "llama";
  s.layers = 2;
  s.heads = 6;
  s.kv_heads = 2;
  s.head_dim = 16;
  s.hidden = 96;
  s.ffn = 160;
  s.weight_type = wt;
  return s;
}

INSTANTIATE_TEST_SUITE_P(
    Archs, TinyModelTest,
    ::testing::Values(Case{"llama_f32", Llama(TensorType::kF32)},
                      Case{"llama_q4_1", Llama(TensorType::kQ4_1)},
                      Case{"gemma3_window5_q8_0", Gemma(5, TensorType::kQ8_0)},
                      Case{"gemma3_global_f16", Gemma(0, TensorType::kF16)},
                      Case{"gemma3_window8_q4_k", [] {
                             TinyModelSpec s = Gemma(8, TensorType::kQ4_K);
                             s.hidden = 256;
                             s.head_dim = 64;  // q_dim 256: Q4_K rows are 256-element blocks
                             s.ffn = 256;
                             return s;
                           }()}),
    [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace parley
