// UTF-8 helpers shared by the tokenizers and the streaming detokenizer. All functions are
// pure and thread-safe. Decoding follows llama.cpp's lenient rules where tokenization must
// match it (invalid bytes become U+FFFD, one per byte).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace parley::utf8 {

inline constexpr uint32_t kReplacementChar = 0xFFFD;

// Length of the sequence a lead byte announces, from its high nibble (1 for continuation
// and ASCII bytes, as llama.cpp's unicode_len_utf8).
inline size_t SeqLenFromLead(uint8_t lead) {
  static constexpr uint8_t kLookup[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
  return kLookup[lead >> 4];
}

// Appends the UTF-8 encoding of `cpt` (must be <= 0x10FFFF).
void Append(uint32_t cpt, std::string* out);
std::string Encode(uint32_t cpt);

// Decodes one code point at `*offset` and advances it. Malformed input (bad lead byte,
// missing continuation, truncated sequence, surrogate, > U+10FFFF) consumes one byte and
// yields U+FFFD.
uint32_t DecodeOne(std::string_view text, size_t* offset);

// `text` with every malformed byte replaced by U+FFFD: always valid UTF-8.
std::string Sanitize(std::string_view text);

// Number of trailing bytes of `bytes` that form an incomplete, still-valid-so-far UTF-8
// sequence (0 when the text ends on a character boundary or the tail is already invalid).
size_t IncompleteTailLength(std::string_view bytes);

}  // namespace parley::utf8
