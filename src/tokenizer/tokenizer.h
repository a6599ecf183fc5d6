// Tokenizers read from a GGUF file: SentencePiece-style (tokenizer.ggml.model "llama",
// Gemma) and GPT-2 byte-level BPE ("gpt2", SmolLM2/Llama 3/Qwen 2) with pre-tokenizer
// regexes. Immutable after construction; Encode/Decode are thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/status.h"
#include "gguf/gguf.h"

namespace parley {

enum class TokenAttr : int32_t {  // tokenizer.ggml.token_type
  kUndefined = 0, kNormal = 1, kUnknown = 2, kControl = 3, kUserDefined = 4, kUnused = 5, kByte = 6,
};

class SpecialTokenMatcher;

// Everything a tokenizer is built from: the tokenizer.ggml.* metadata, as plain data, so
// tests can build tiny vocabularies without a file. Absent optionals take llama.cpp's
// defaults for the model type.
struct TokenizerSpec {
  std::string model;                 // "llama" (SentencePiece-style) or "gpt2" (byte-level BPE)
  std::string pre;                   // pre-tokenizer name (BPE only); "" means "default"
  std::vector<std::string> tokens;   // id -> text
  std::vector<float> scores;         // SPM merge priority (higher first); empty: all 0
  std::vector<int32_t> token_types;  // TokenAttr values; empty: all normal
  std::vector<std::string> merges;   // BPE "left right"; rank = index
  std::optional<int32_t> bos_id, eos_id, unk_id, eot_id, eom_id;
  std::optional<bool> add_bos, add_eos, add_space_prefix;
};

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;
  Tokenizer(const Tokenizer&) = delete;
  Tokenizer& operator=(const Tokenizer&) = delete;

  // Reads the vocabulary, merges/scores, special ids and flags from `gguf`.
  static StatusOr<std::unique_ptr<Tokenizer>> FromGguf(const GgufFile& gguf);
  // Builds a tokenizer from plain data. Errors name an unknown model or pre-tokenizer.
  static StatusOr<std::unique_ptr<Tokenizer>> FromSpec(TokenizerSpec spec);
  // Reads the tokenizer.* keys of `gguf` into a spec (no validation beyond types).
  static StatusOr<TokenizerSpec> SpecFromGguf(const GgufFile& gguf);

  // add_special: add BOS (and EOS) as the model's add_bos_token/add_eos_token say.
  // parse_special: literal control-token text in `text` becomes those tokens' ids.
  // Matches llama.cpp's llama_tokenize(text, add_special, parse_special).
  virtual std::vector<int32_t> Encode(std::string_view text, bool add_special,
                                      bool parse_special) const = 0;

  // The bytes token `id` stands for (may be a partial UTF-8 sequence, e.g. byte tokens).
  // Control tokens give their text only when `include_special`.
  virtual std::string TokenBytes(int32_t id, bool include_special) const = 0;

  // Concatenated bytes of `ids` (invalid UTF-8 is kept as is).
  std::string Decode(const std::vector<int32_t>& ids, bool include_special = false) const;

  int32_t vocab_size() const { return static_cast<int32_t>(tokens_.size()); }
  const std::string& token_text(int32_t id) const { return tokens_[id]; }
  TokenAttr token_attr(int32_t id) const { return attrs_[id]; }
  int32_t bos_id() const { return bos_id_; }  // -1 if none
  int32_t eos_id() const { return eos_id_; }
  bool add_bos() const { return add_bos_; }
  // True for tokens that end a generation: eos, eot/eom (from the file), and the tokens
  // llama.cpp recognises by text (<end_of_turn>, <|im_end|>, <|endoftext|>, <|eot_id|>,
  // <|end|>, <|eom_id|>, <end_of_utterance>, FIM pad/repo/file-separator tokens...).
  bool IsEndOfGeneration(int32_t id) const;
  // Id of the token whose text is exactly `text`, or -1.
  int32_t FindToken(std::string_view text) const;

 protected:
  Tokenizer() = default;
  // Fills the members below from `spec` (moving its tokens out), given the model type's
  // default ids and add_bos. Called once by each subclass's factory.
  Status InitVocab(TokenizerSpec* spec, int32_t default_bos, int32_t default_eos,
                   int32_t default_unk, bool default_add_bos);
  // Splits `text` around special tokens (see special_tokens.h).
  std::vector<int32_t> EncodeWithSpecials(
      std::string_view text, bool add_special, bool parse_special,
      const std::function<void(std::string_view fragment, bool after_special,
                               std::vector<int32_t>* out)>& encode_fragment) const;

  std::vector<std::string> tokens_;
  std::vector<TokenAttr> attrs_;
  std::vector<int32_t> eog_ids_;
  int32_t bos_id_ = -1;
  int32_t eos_id_ = -1;
  int32_t unk_id_ = -1;
  bool add_bos_ = false;
  bool add_eos_ = false;
  // Views into tokens_, which never changes after InitVocab. Duplicates: the last id wins.
  std::unordered_map<std::string_view, int32_t> token_to_id_;
  std::shared_ptr<const SpecialTokenMatcher> special_tokens_;
};

// Turns a stream of token ids into text, emitting only complete UTF-8 characters, so a
// character split over several byte tokens is printed once it is whole.
class StreamingDetokenizer {
 public:
  explicit StreamingDetokenizer(const Tokenizer& tokenizer, bool include_special = false)
      : tokenizer_(tokenizer), include_special_(include_special) {}
  // Returns the text that became complete with `id` (possibly empty).
  std::string Feed(int32_t id);
  // Returns whatever is still buffered (an incomplete sequence at the end of generation).
  std::string Flush();

 private:
  const Tokenizer& tokenizer_;
  bool include_special_;
  std::string pending_;
};

}  // namespace parley
