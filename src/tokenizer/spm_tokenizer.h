// SentencePiece-style tokenizer (tokenizer.ggml.model "llama": Gemma, Llama 2): spaces
// become U+2581, then adjacent pieces are merged by highest vocabulary score, and characters
// without a piece fall back to <0xXX> byte tokens. Matches llama.cpp's llm_tokenizer_spm.
// Immutable after Create; thread-safe.
#pragma once

#include <array>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace parley {

class SpmTokenizer final : public Tokenizer {
 public:
  // REQUIRES: spec.model == "llama".
  static StatusOr<std::unique_ptr<Tokenizer>> Create(TokenizerSpec spec);

  std::vector<int32_t> Encode(std::string_view text, bool add_special,
                              bool parse_special) const override;
  std::string TokenBytes(int32_t id, bool include_special) const override;

  bool add_space_prefix() const { return add_space_prefix_; }

 private:
  SpmTokenizer() = default;
  // Tokenizes one plain-text fragment (no special tokens in it) onto `out`.
  void EncodeFragment(std::string_view fragment, bool after_special,
                      std::vector<int32_t>* out) const;

  std::vector<float> scores_;
  bool add_space_prefix_ = true;
  std::array<int32_t, 256> byte_tokens_;  // <0xXX> (or the 1-byte piece); -1 if neither
};

}  // namespace parley
