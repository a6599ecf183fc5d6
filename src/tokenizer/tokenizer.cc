// Tokenizer construction from GGUF metadata, the parts shared by both algorithms (special-id
// defaults, end-of-generation set, special-token splitting), and streaming detokenization.
#include "tokenizer/tokenizer.h"

#include <algorithm>

#include "tokenizer/bpe_tokenizer.h"
#include "tokenizer/special_tokens.h"
#include "tokenizer/spm_tokenizer.h"
#include "tokenizer/utf8.h"

namespace parley {
namespace {

// Token texts llama.cpp (llama-vocab.cpp, load) recognises whatever the file says: they are
// forced to control type (so plain text never matches them and they print only as specials).
// The first list also ends generation; it includes fill-in-the-middle pad/repo/file-separator
// tokens. Note "</s>": a user-defined HTML tag in Gemma 3's vocabulary that llama.cpp
// nevertheless treats as end-of-generation (for PaddleOCR); mirrored for parity.
// clang-format off
constexpr const char* kEndOfGenerationTexts[] = {
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<|flush|>", "<|calls|>",
    "<end_of_turn>", "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>", "_<EOT>", "[EOT]", "[EOS]",
    "<|end_of_text|>", "<end_of_utterance>", "<eos>", "<turn|>", "<|tool_response>",
    "<｜end▁of▁sentence｜>", "[e~[", "<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]",
    "<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>", "<|file_sep|>",
};
constexpr const char* kControlTexts[] = {
    "<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>", "<｜fim▁begin｜>", "<PRE>", "▁<PRE>",
    "<|code_prefix|>", "<|prefix|>", "<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>",
    "<｜fim▁hole｜>", "<SUF>", "▁<SUF>", "<|code_suffix|>", "<|suffix|>", "<|fim_middle|>",
    "<fim-middle>", "<fim_middle>", "<｜fim▁end｜>", "<MID>", "▁<MID>", "<|code_middle|>",
    "<|middle|>",
};
// clang-format on

StatusOr<std::optional<int32_t>> GetId(const GgufFile& gguf, const std::string& key) {
  PARLEY_ASSIGN_OR_RETURN(std::optional<int64_t> v, gguf.GetInt(key));
  if (!v) return std::optional<int32_t>();
  if (*v < 0 || *v > INT32_MAX) {
    return Status::Error(key + " = " + std::to_string(*v) + " is not a token id");
  }
  return std::optional<int32_t>(static_cast<int32_t>(*v));
}

}  // namespace

StatusOr<TokenizerSpec> Tokenizer::SpecFromGguf(const GgufFile& gguf) {
  TokenizerSpec spec;
  PARLEY_ASSIGN_OR_RETURN(std::optional<std::string> model, gguf.GetString("tokenizer.ggml.model"));
  if (!model) return Status::Error("the file has no tokenizer (tokenizer.ggml.model is missing)");
  spec.model = *model;
  PARLEY_ASSIGN_OR_RETURN(std::optional<std::string> pre, gguf.GetString("tokenizer.ggml.pre"));
  spec.pre = pre.value_or("");

  const GgufValue* tokens = gguf.Find("tokenizer.ggml.tokens");
  if (tokens == nullptr || !tokens->is_array() || tokens->elem_type != GgufValueType::kString) {
    return Status::Error("tokenizer.ggml.tokens is missing or not a string array");
  }
  spec.tokens = tokens->strings;
  if (const GgufValue* scores = gguf.Find("tokenizer.ggml.scores")) {
    if (!scores->is_array() || scores->floats.size() != scores->size()) {
      return Status::Error("tokenizer.ggml.scores should be a float array");
    }
    spec.scores.assign(scores->floats.begin(), scores->floats.end());
  }
  if (const GgufValue* types = gguf.Find("tokenizer.ggml.token_type")) {
    if (!types->is_array() || !types->strings.empty() || !types->floats.empty()) {
      return Status::Error("tokenizer.ggml.token_type should be an integer array");
    }
    for (int64_t t : types->ints) spec.token_types.push_back(static_cast<int32_t>(t));
    for (uint64_t t : types->uints) spec.token_types.push_back(static_cast<int32_t>(t));
  }
  if (const GgufValue* merges = gguf.Find("tokenizer.ggml.merges")) {
    if (!merges->is_array() || merges->strings.size() != merges->size()) {
      return Status::Error("tokenizer.ggml.merges should be a string array");
    }
    spec.merges = merges->strings;
  } else if (spec.model == "gpt2") {
    return Status::Error("the BPE tokenizer has no merges (tokenizer.ggml.merges is missing)");
  }
  PARLEY_ASSIGN_OR_RETURN(spec.bos_id, GetId(gguf, "tokenizer.ggml.bos_token_id"));
  PARLEY_ASSIGN_OR_RETURN(spec.eos_id, GetId(gguf, "tokenizer.ggml.eos_token_id"));
  PARLEY_ASSIGN_OR_RETURN(spec.unk_id, GetId(gguf, "tokenizer.ggml.unknown_token_id"));
  PARLEY_ASSIGN_OR_RETURN(spec.eot_id, GetId(gguf, "tokenizer.ggml.eot_token_id"));
  PARLEY_ASSIGN_OR_RETURN(spec.eom_id, GetId(gguf, "tokenizer.ggml.eom_token_id"));
  PARLEY_ASSIGN_OR_RETURN(spec.add_bos, gguf.GetBool("tokenizer.ggml.add_bos_token"));
  PARLEY_ASSIGN_OR_RETURN(spec.add_eos, gguf.GetBool("tokenizer.ggml.add_eos_token"));
  PARLEY_ASSIGN_OR_RETURN(spec.add_space_prefix, gguf.GetBool("tokenizer.ggml.add_space_prefix"));
  return spec;
}

StatusOr<std::unique_ptr<Tokenizer>> Tokenizer::FromGguf(const GgufFile& gguf) {
  StatusOr<TokenizerSpec> spec = SpecFromGguf(gguf);
  if (!spec.ok()) return spec.status().WithContext(gguf.path());
  StatusOr<std::unique_ptr<Tokenizer>> tok = FromSpec(std::move(*spec));
  if (!tok.ok()) return tok.status().WithContext(gguf.path());
  return tok;
}

StatusOr<std::unique_ptr<Tokenizer>> Tokenizer::FromSpec(TokenizerSpec spec) {
  if (spec.model == "llama") return SpmTokenizer::Create(std::move(spec));
  if (spec.model == "gpt2") return BpeTokenizer::Create(std::move(spec));
  return Status::Error("unsupported tokenizer model '" + spec.model +
                       "' (tokenizer.ggml.model); Parley supports 'llama' (SentencePiece) and "
                       "'gpt2' (byte-level BPE)");
}

Status Tokenizer::InitVocab(TokenizerSpec* spec, int32_t default_bos, int32_t default_eos,
                            int32_t default_unk, bool default_add_bos) {
  const size_t n = spec->tokens.size();
  if (n == 0) return Status::Error("the vocabulary (tokenizer.ggml.tokens) is empty");
  if (n > static_cast<size_t>(INT32_MAX)) return Status::Error("the vocabulary is too large");
  if (!spec->token_types.empty() && spec->token_types.size() != n) {
    return Status::Error("tokenizer.ggml.token_type has " +
                         std::to_string(spec->token_types.size()) + " entries but there are " +
                         std::to_string(n) + " tokens");
  }
  tokens_ = std::move(spec->tokens);
  attrs_.assign(n, TokenAttr::kNormal);
  for (size_t i = 0; i < n; ++i) {
    if (tokens_[i].empty()) tokens_[i] = "[EMPTY_" + std::to_string(i) + "]";  // as llama.cpp
    if (!spec->token_types.empty()) {
      const int32_t t = spec->token_types[i];
      attrs_[i] = (t >= 0 && t <= 6) ? static_cast<TokenAttr>(t) : TokenAttr::kUndefined;
    }
  }
  token_to_id_.reserve(n);
  for (size_t i = 0; i < n; ++i) token_to_id_[tokens_[i]] = static_cast<int32_t>(i);

  // An id from the file that is out of range keeps the default, like llama.cpp.
  auto pick = [n](std::optional<int32_t> from_file, int32_t fallback) {
    if (from_file && *from_file >= 0 && static_cast<size_t>(*from_file) < n) return *from_file;
    return (fallback >= 0 && static_cast<size_t>(fallback) < n) ? fallback : -1;
  };
  bos_id_ = pick(spec->bos_id, default_bos);
  eos_id_ = pick(spec->eos_id, default_eos);
  unk_id_ = pick(spec->unk_id, default_unk);
  const int32_t eot_id = pick(spec->eot_id, -1);
  const int32_t eom_id = pick(spec->eom_id, -1);
  add_bos_ = spec->add_bos.value_or(default_add_bos) && bos_id_ >= 0;
  add_eos_ = spec->add_eos.value_or(false) && eos_id_ >= 0;

  // End of generation: special texts, eos, eot, eom. Two llama.cpp workarounds follow: with
  // <|return|> and <|call|> (gpt-oss) or <|calls|> and <|flush|> (solar-open), <|end|> is an
  // ordinary user-defined token; with <|tool_response> (Gemma 4), </s> is a normal one.
  eog_ids_.clear();
  for (const char* text : kEndOfGenerationTexts) {
    const int32_t id = FindToken(text);
    if (id < 0) continue;
    attrs_[id] = TokenAttr::kControl;
    eog_ids_.push_back(id);
  }
  for (const char* text : kControlTexts) {
    const int32_t id = FindToken(text);
    if (id >= 0) attrs_[id] = TokenAttr::kControl;
  }
  for (int32_t id : {eos_id_, eot_id, eom_id}) {
    if (id >= 0) eog_ids_.push_back(id);
  }
  auto has = [this](const char* text) { return FindToken(text) >= 0; };
  auto drop_eog = [this](const char* text, TokenAttr attr) {
    const int32_t id = FindToken(text);
    eog_ids_.erase(std::remove(eog_ids_.begin(), eog_ids_.end(), id), eog_ids_.end());
    attrs_[id] = attr;
  };
  if (has("<|end|>") &&
      ((has("<|return|>") && has("<|call|>")) || (has("<|calls|>") && has("<|flush|>")))) {
    drop_eog("<|end|>", TokenAttr::kUserDefined);
  }
  if (has("</s>") && has("<|tool_response>")) drop_eog("</s>", TokenAttr::kNormal);
  std::sort(eog_ids_.begin(), eog_ids_.end());
  eog_ids_.erase(std::unique(eog_ids_.begin(), eog_ids_.end()), eog_ids_.end());

  special_tokens_ = std::make_shared<SpecialTokenMatcher>(tokens_, attrs_);
  return Status::Ok();
}

std::vector<int32_t> Tokenizer::EncodeWithSpecials(
    std::string_view text, bool add_special, bool parse_special,
    const std::function<void(std::string_view, bool, std::vector<int32_t>*)>& encode_fragment)
    const {
  std::vector<int32_t> out;
  out.reserve(text.size() / 3 + 2);
  if (add_special && add_bos_) out.push_back(bos_id_);
  bool after_special = true;  // the start counts as "after a special token" (SPM space prefix)
  for (const SpecialTokenMatcher::Fragment& f : special_tokens_->Partition(text, parse_special)) {
    if (f.token >= 0) {
      out.push_back(f.token);
      after_special = true;
    } else {
      encode_fragment(text.substr(f.begin, f.size), after_special, &out);
      after_special = false;
    }
  }
  if (add_special && add_eos_) out.push_back(eos_id_);
  return out;
}

std::string Tokenizer::Decode(const std::vector<int32_t>& ids, bool include_special) const {
  std::string out;
  for (int32_t id : ids) out += TokenBytes(id, include_special);
  return out;
}

bool Tokenizer::IsEndOfGeneration(int32_t id) const {
  return std::binary_search(eog_ids_.begin(), eog_ids_.end(), id);
}

int32_t Tokenizer::FindToken(std::string_view text) const {
  auto it = token_to_id_.find(text);
  return it == token_to_id_.end() ? -1 : it->second;
}

std::string StreamingDetokenizer::Feed(int32_t id) {
  pending_ += tokenizer_.TokenBytes(id, include_special_);
  const size_t hold = utf8::IncompleteTailLength(pending_);
  std::string ready = pending_.substr(0, pending_.size() - hold);
  pending_.erase(0, pending_.size() - hold);
  return ready;
}

std::string StreamingDetokenizer::Flush() {
  std::string rest;
  rest.swap(pending_);
  return rest;
}

}  // namespace parley
