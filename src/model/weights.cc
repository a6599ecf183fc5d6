#include "model/weights.h"

#include "kernels/quant.h"

namespace parley {

std::vector<float> WeightView::ToF32() const {
  std::vector<float> out(cols * rows);
  for (int64_t r = 0; r < rows; ++r) DequantizeRow(type, row(r), out.data() + r * cols, cols);
  return out;
}

namespace {

std::string ShapeString(const std::vector<int64_t>& ne) {
  std::string s = "[";
  for (size_t i = 0; i < ne.size(); ++i) s += (i ? ", " : "") + std::to_string(ne[i]);
  return s + "]";
}

// Finds `name`, checks its type is supported and its shape is [cols, rows] (rows 0: 1-D).
StatusOr<WeightView> Resolve(const GgufFile& gguf, const std::string& name, int64_t cols,
                             int64_t rows) {
  const GgufTensorInfo* t = gguf.FindTensor(name);
  if (t == nullptr) return Status::Error("missing required tensor " + name);
  const TypeInfo* info = FindTypeInfo(t->type_id);
  if (info == nullptr || !info->supported) {
    return Status::Error("tensor " + name + " has type " + TypeName(t->type_id) + " (" +
                         std::to_string(t->type_id) + "), which Parley does not support");
  }
  std::vector<int64_t> want = rows == 0 ? std::vector<int64_t>{cols} : std::vector<int64_t>{cols, rows};
  std::vector<int64_t> got = t->ne;
  while (got.size() > want.size() && got.back() == 1) got.pop_back();
  if (got != want) {
    return Status::Error("tensor " + name + " has shape " + ShapeString(t->ne) + ", expected " +
                         ShapeString(want));
  }
  WeightView w;
  w.name = name;
  w.type = t->type();
  w.data = t->data;
  w.cols = cols;
  w.rows = rows == 0 ? 1 : rows;
  w.row_bytes = RowBytes(w.type, cols);
  return w;
}

}  // namespace

StatusOr<ModelWeights> LoadWeights(const GgufFile& gguf, const ModelConfig& c) {
  ModelWeights m;
  const GgufTensorInfo* embd = gguf.FindTensor("token_embd.weight");
  if (embd == nullptr) return Status::Error("missing required tensor token_embd.weight");
  int64_t vocab = embd->ne.size() >= 2 ? embd->ne[1] : 0;
  if (vocab != c.vocab_size) {
    return Status::Error("token_embd.weight has " + std::to_string(vocab) +
                         " rows but the vocabulary has " + std::to_string(c.vocab_size) + " tokens");
  }
  PARLEY_ASSIGN_OR_RETURN(m.token_embd, Resolve(gguf, "token_embd.weight", c.hidden, vocab));
  if (gguf.FindTensor("output.weight") != nullptr) {
    PARLEY_ASSIGN_OR_RETURN(m.output, Resolve(gguf, "output.weight", c.hidden, vocab));
  } else {
    m.output = m.token_embd;  // tied embeddings
  }
  PARLEY_ASSIGN_OR_RETURN(m.output_norm, Resolve(gguf, "output_norm.weight", c.hidden, 0));
  m.output_norm_f = m.output_norm.ToF32();

  m.layers.resize(c.num_layers);
  for (int32_t l = 0; l < c.num_layers; ++l) {
    LayerWeights& L = m.layers[l];
    auto name = [&](const char* n) { return "blk." + std::to_string(l) + "." + n + ".weight"; };
    PARLEY_ASSIGN_OR_RETURN(L.attn_norm, Resolve(gguf, name("attn_norm"), c.hidden, 0));
    PARLEY_ASSIGN_OR_RETURN(L.wq, Resolve(gguf, name("attn_q"), c.hidden, c.q_dim()));
    PARLEY_ASSIGN_OR_RETURN(L.wk, Resolve(gguf, name("attn_k"), c.hidden, c.kv_dim()));
    PARLEY_ASSIGN_OR_RETURN(L.wv, Resolve(gguf, name("attn_v"), c.hidden, c.kv_dim()));
    PARLEY_ASSIGN_OR_RETURN(L.wo, Resolve(gguf, name("attn_output"), c.q_dim(), c.hidden));
    PARLEY_ASSIGN_OR_RETURN(L.ffn_norm, Resolve(gguf, name("ffn_norm"), c.hidden, 0));
    PARLEY_ASSIGN_OR_RETURN(L.w_gate, Resolve(gguf, name("ffn_gate"), c.hidden, c.ffn_hidden));
    PARLEY_ASSIGN_OR_RETURN(L.w_up, Resolve(gguf, name("ffn_up"), c.hidden, c.ffn_hidden));
    PARLEY_ASSIGN_OR_RETURN(L.w_down, Resolve(gguf, name("ffn_down"), c.ffn_hidden, c.hidden));
    L.attn_norm_f = L.attn_norm.ToF32();
    L.ffn_norm_f = L.ffn_norm.ToF32();
    if (c.qk_norm) {
      PARLEY_ASSIGN_OR_RETURN(L.q_norm, Resolve(gguf, name("attn_q_norm"), c.head_dim, 0));
      PARLEY_ASSIGN_OR_RETURN(L.k_norm, Resolve(gguf, name("attn_k_norm"), c.head_dim, 0));
      L.q_norm_f = L.q_norm.ToF32();
      L.k_norm_f = L.k_norm.ToF32();
    }
    if (c.post_norms) {
      PARLEY_ASSIGN_OR_RETURN(L.post_attn_norm, Resolve(gguf, name("post_attention_norm"), c.hidden, 0));
      PARLEY_ASSIGN_OR_RETURN(L.post_ffn_norm, Resolve(gguf, name("post_ffw_norm"), c.hidden, 0));
      L.post_attn_norm_f = L.post_attn_norm.ToF32();
      L.post_ffn_norm_f = L.post_ffn_norm.ToF32();
    }
  }
  return m;
}

void PrefaultWeights(const GgufFile& gguf, const LoadProgress& progress) {
  uint64_t total = 0;
  for (const GgufTensorInfo& t : gguf.tensors()) total += t.size_bytes;
  uint64_t done = 0;
  volatile uint8_t sink = 0;
  constexpr uint64_t kPage = 4096;
  constexpr uint64_t kReportEvery = 8ull << 20;
  uint64_t next_report = 0;
  for (const GgufTensorInfo& t : gguf.tensors()) {
    for (uint64_t off = 0; off < t.size_bytes; off += kPage) {
      sink = sink + t.data[off];
      if (progress && done + off >= next_report) {
        progress(done + off, total);
        next_report = done + off + kReportEvery;
      }
    }
    done += t.size_bytes;
  }
  if (progress) progress(total, total);
}

}  // namespace parley
