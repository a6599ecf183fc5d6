// GPT-2 byte-level BPE (tokenizer.ggml.model "gpt2": SmolLM2, Llama 3, Qwen 2): the text is
// split by the pre-tokenizer regexes, each piece's bytes are mapped to printable code points
// (GPT-2's bytes_to_unicode), and adjacent symbols are merged lowest merge rank first.
// Matches llama.cpp's llm_tokenizer_bpe. Immutable after Create; thread-safe.
#pragma once

#include <array>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tokenizer/pre_tokenizer.h"
#include "tokenizer/tokenizer.h"

namespace parley {

class BpeTokenizer final : public Tokenizer {
 public:
  // REQUIRES: spec.model == "gpt2". Errors on an unknown spec.pre.
  static StatusOr<std::unique_ptr<Tokenizer>> Create(TokenizerSpec spec);

  std::vector<int32_t> Encode(std::string_view text, bool add_special,
                              bool parse_special) const override;
  std::string TokenBytes(int32_t id, bool include_special) const override;

  // GPT-2's byte -> code point map, as UTF-8 (e.g. ' ' -> "Ġ", '\n' -> "Ċ").
  static const std::array<std::string, 256>& ByteToUnicode();

 private:
  explicit BpeTokenizer(PreTokenizer pre) : pre_(std::move(pre)) {}
  void EncodeFragment(std::string_view fragment, std::vector<int32_t>* out) const;
  // Merges one byte-encoded word and appends its token ids.
  void EncodeWord(const std::string& word, std::vector<int32_t>* out) const;
  int32_t Rank(std::string_view left, std::string_view right, std::string* scratch) const;

  PreTokenizer pre_;
  std::unordered_map<std::string, int32_t> ranks_;  // "left right" -> merge rank
};

}  // namespace parley
