#include "gguf/testing/tiny_model.h"

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <random>
#include <vector>

#include "gguf/gguf_writer.h"

namespace parley::testing {
namespace {

// Byte-level BPE alphabet: the GPT-2 byte-to-unicode map, as UTF-8 strings.
std::vector<std::string> ByteLevelAlphabet() {
  std::vector<int> cps(256, -1);
  int next = 256;
  for (int b = 0; b < 256; ++b) {
    bool direct = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    cps[b] = direct ? b : next++;
  }
  std::vector<std::string> out;
  for (int cp : cps) {
    std::string s;
    if (cp < 0x80) {
      s += static_cast<char>(cp);
    } else {
      s += static_cast<char>(0xC0 | (cp >> 6));
      s += static_cast<char>(0x80 | (cp & 0x3F));
    }
    out.push_back(s);
  }
  return out;
}

void AddTokenizer(const TinyModelSpec& spec, GgufWriter& w, int32_t* vocab_size) {
  std::vector<std::string> tokens;
  std::vector<float> scores;
  std::vector<int32_t> types;
  auto add = [&](std::string t, float score, int32_t type) {
    tokens.push_back(std::move(t));
    scores.push_back(score);
    types.push_back(type);
  };
  if (spec.arch == "gemma3") {
    add("<pad>", -1000, 3);
    add("<eos>", -1000, 3);
    add("<bos>", -1000, 3);
    add("<unk>", -1000, 2);
    add("<start_of_turn>", -1000, 3);
    add("<end_of_turn>", -1000, 3);
    char buf[8];
    for (int b = 0; b < 256; ++b) {
      std::snprintf(buf, sizeof(buf), "<0x%02X>", b);
      add(buf, 0, 6);
    }
    const char* pieces[] = {"\xE2\x96\x81", "e", "t", "a", "o", "n", "\xE2\x96\x81t", "he",
                            "\xE2\x96\x81the", "in", "er", "\n", "user", "model", "hi"};
    float score = -1.0f;
    for (const char* p : pieces) add(p, score -= 0.5f, 1);
    w.AddKv("tokenizer.ggml.model", GgufValue::Str("llama"));
    w.AddKv("tokenizer.ggml.pre", GgufValue::Str("default"));
    w.AddKv("tokenizer.ggml.bos_token_id", GgufValue::U32(2));
    w.AddKv("tokenizer.ggml.eos_token_id", GgufValue::U32(1));
    w.AddKv("tokenizer.ggml.unknown_token_id", GgufValue::U32(3));
    w.AddKv("tokenizer.ggml.padding_token_id", GgufValue::U32(0));
    w.AddKv("tokenizer.ggml.add_bos_token", GgufValue::Bool(true));
    w.AddKv("tokenizer.ggml.add_eos_token", GgufValue::Bool(false));
    w.AddKv("tokenizer.ggml.add_space_prefix", GgufValue::Bool(false));
    w.AddKv("tokenizer.chat_template",
            GgufValue::Str("{{ bos_token }}{% for m in messages %}<start_of_turn>{{ m.role }}\n"
                           "{{ m.content }}<end_of_turn>\n{% endfor %}"));
  } else {
    add("<|endoftext|>", 0, 3);
    add("<|im_start|>", 0, 3);
    add("<|im_end|>", 0, 3);
    for (const std::string& s : ByteLevelAlphabet()) add(s, 0, 1);
    std::vector<std::string> merges = {"Ġ t", "h e", "Ġt he", "i n", "e r", "a n"};
    add("Ġt", 0, 1);
    add("he", 0, 1);
    add("Ġthe", 0, 1);
    add("in", 0, 1);
    add("er", 0, 1);
    add("an", 0, 1);
    w.AddKv("tokenizer.ggml.model", GgufValue::Str("gpt2"));
    w.AddKv("tokenizer.ggml.pre", GgufValue::Str("smollm"));
    w.AddKv("tokenizer.ggml.merges", GgufValue::StrArray(merges));
    w.AddKv("tokenizer.ggml.bos_token_id", GgufValue::U32(1));
    w.AddKv("tokenizer.ggml.eos_token_id", GgufValue::U32(2));
    w.AddKv("tokenizer.ggml.unknown_token_id", GgufValue::U32(0));
    w.AddKv("tokenizer.ggml.add_bos_token", GgufValue::Bool(false));
    w.AddKv("tokenizer.chat_template",
            GgufValue::Str("{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}"
                           "<|im_end|>\n{% endfor %}"));
  }
  w.AddKv("tokenizer.ggml.tokens", GgufValue::StrArray(tokens));
  w.AddKv("tokenizer.ggml.scores", GgufValue::F32Array(scores));
  w.AddKv("tokenizer.ggml.token_type", GgufValue::I32Array(types));
  *vocab_size = static_cast<int32_t>(tokens.size());
}

}  // namespace

TinyModelSpec SmallGemmaSpec(int32_t layers, int32_t window, int32_t swa_period) {
  TinyModelSpec s;
  s.arch = "gemma3";
  s.layers = layers;
  s.heads = 4;
  s.kv_heads = 1;
  s.head_dim = 32;
  s.hidden = 64;
  s.ffn = 128;
  s.window = window;
  s.swa_period = swa_period;
  return s;
}

Status WriteTinyModel(const TinyModelSpec& spec, const std::string& path) {
  if (spec.arch != "llama" && spec.arch != "gemma3") return Status::Error("unknown arch " + spec.arch);
  GgufWriter w;
  const std::string a = spec.arch;
  w.AddKv("general.architecture", GgufValue::Str(a));
  w.AddKv("general.name", GgufValue::Str("tiny-" + a));
  w.AddKv(a + ".block_count", GgufValue::U32(spec.layers));
  w.AddKv(a + ".embedding_length", GgufValue::U32(spec.hidden));
  w.AddKv(a + ".feed_forward_length", GgufValue::U32(spec.ffn));
  w.AddKv(a + ".attention.head_count", GgufValue::U32(spec.heads));
  w.AddKv(a + ".attention.head_count_kv", GgufValue::U32(spec.kv_heads));
  w.AddKv(a + ".attention.key_length", GgufValue::U32(spec.head_dim));
  w.AddKv(a + ".attention.value_length", GgufValue::U32(spec.head_dim));
  w.AddKv(a + ".context_length", GgufValue::U32(spec.context));
  if (!spec.kv_owners.empty()) w.AddKv(a + ".attention.kv_owner_layers", GgufValue::I32Array(spec.kv_owners));
  w.AddKv(a + ".attention.layer_norm_rms_epsilon", GgufValue::F32(1e-6f));
  if (a == "gemma3") {
    w.AddKv(a + ".rope.freq_base", GgufValue::F32(1000000.0f));
    if (spec.window > 0) {
      w.AddKv(a + ".attention.sliding_window", GgufValue::U32(spec.window));
      w.AddKv(a + ".attention.sliding_window_pattern", GgufValue::U32(spec.swa_period));
    }
  } else {
    w.AddKv(a + ".rope.freq_base", GgufValue::F32(10000.0f));
    w.AddKv(a + ".rope.dimension_count", GgufValue::U32(spec.head_dim));
  }
  int32_t vocab = 0;
  AddTokenizer(spec, w, &vocab);

  std::mt19937 rng(spec.seed);
  auto random = [&](int64_t n, float scale) {
    std::normal_distribution<float> dist(0.0f, scale);
    std::vector<float> v(n);
    for (float& x : v) x = dist(rng);
    return v;
  };
  auto norm = [&](int64_t n) {
    std::uniform_real_distribution<float> dist(0.8f, 1.2f);
    std::vector<float> v(n);
    for (float& x : v) x = dist(rng);
    return v;
  };
  const int64_t H = spec.hidden, Q = spec.heads * spec.head_dim, KV = spec.kv_heads * spec.head_dim;
  const float ws = 1.0f / std::sqrt(static_cast<float>(H));
  w.AddTensorF32("token_embd.weight", spec.embed_type, {H, vocab}, random(H * vocab, 1.0f));
  w.AddTensorF32("output_norm.weight", TensorType::kF32, {H}, norm(H));
  for (int32_t l = 0; l < spec.layers; ++l) {
    auto n = [&](const char* s) { return "blk." + std::to_string(l) + "." + s + ".weight"; };
    w.AddTensorF32(n("attn_norm"), TensorType::kF32, {H}, norm(H));
    w.AddTensorF32(n("attn_q"), spec.weight_type, {H, Q}, random(H * Q, ws));
    w.AddTensorF32(n("attn_k"), spec.weight_type, {H, KV}, random(H * KV, ws));
    w.AddTensorF32(n("attn_v"), spec.weight_type, {H, KV}, random(H * KV, ws));
    w.AddTensorF32(n("attn_output"), spec.weight_type, {Q, H},
                   random(Q * H, 1.0f / std::sqrt(static_cast<float>(Q))));
    w.AddTensorF32(n("ffn_norm"), TensorType::kF32, {H}, norm(H));
    w.AddTensorF32(n("ffn_gate"), spec.weight_type, {H, spec.ffn}, random(H * spec.ffn, ws));
    w.AddTensorF32(n("ffn_up"), spec.weight_type, {H, spec.ffn}, random(H * spec.ffn, ws));
    w.AddTensorF32(n("ffn_down"), spec.weight_type, {spec.ffn, H},
                   random(spec.ffn * H, 1.0f / std::sqrt(static_cast<float>(spec.ffn))));
    if (a == "gemma3") {
      w.AddTensorF32(n("attn_q_norm"), TensorType::kF32, {spec.head_dim}, norm(spec.head_dim));
      w.AddTensorF32(n("attn_k_norm"), TensorType::kF32, {spec.head_dim}, norm(spec.head_dim));
      w.AddTensorF32(n("post_attention_norm"), TensorType::kF32, {H}, norm(H));
      w.AddTensorF32(n("post_ffw_norm"), TensorType::kF32, {H}, norm(H));
    }
  }
  return w.WriteFile(path);
}

std::string TempModelPath(const std::string& stem) {
  static std::atomic<int> counter{0};
  return (std::filesystem::temp_directory_path() /
          ("parley_" + stem + "_" + std::to_string(::getpid()) + "_" + std::to_string(counter++) + ".gguf"))
      .string();
}

}  // namespace parley::testing
