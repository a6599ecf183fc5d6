// SentencePiece-style encoding with a priority queue of candidate merges (O(n log n) in the
// fragment length) and byte-token decoding.
#include "tokenizer/spm_tokenizer.h"

#include <cstdio>
#include <queue>

#include "tokenizer/utf8.h"

namespace parley {
namespace {

constexpr std::string_view kSpaceMarker = "\xE2\x96\x81";  // U+2581 LOWER ONE EIGHTH BLOCK

struct Symbol {
  int32_t prev;
  int32_t next;
  size_t begin;  // byte offset in the escaped fragment
  size_t size;   // 0 once merged into its left neighbour
};

struct Bigram {
  float score;
  int32_t left;
  int32_t right;
  size_t size;  // bytes of left + right when queued; stale if it no longer matches
};

// Highest score first; equal scores: leftmost first.
struct BigramOrder {
  bool operator()(const Bigram& a, const Bigram& b) const {
    return a.score < b.score || (a.score == b.score && a.left > b.left);
  }
};

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

}  // namespace

StatusOr<std::unique_ptr<Tokenizer>> SpmTokenizer::Create(TokenizerSpec spec) {
  std::unique_ptr<SpmTokenizer> tok(new SpmTokenizer());
  if (!spec.scores.empty() && spec.scores.size() != spec.tokens.size()) {
    return Status::Error("tokenizer.ggml.scores has " + std::to_string(spec.scores.size()) +
                         " entries but there are " + std::to_string(spec.tokens.size()) +
                         " tokens");
  }
  tok->scores_ = std::move(spec.scores);
  tok->scores_.resize(spec.tokens.size(), 0.0f);
  tok->add_space_prefix_ = spec.add_space_prefix.value_or(true);
  PARLEY_RETURN_IF_ERROR(tok->InitVocab(&spec, /*default_bos=*/1, /*default_eos=*/2,
                                        /*default_unk=*/0, /*default_add_bos=*/true));
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof(name), "<0x%02X>", b);
    int32_t id = tok->FindToken(name);
    if (id < 0) id = tok->FindToken(std::string(1, static_cast<char>(b)));
    tok->byte_tokens_[b] = id;
  }
  return std::unique_ptr<Tokenizer>(std::move(tok));
}

std::vector<int32_t> SpmTokenizer::Encode(std::string_view text, bool add_special,
                                          bool parse_special) const {
  return EncodeWithSpecials(
      text, add_special, parse_special,
      [this](std::string_view fragment, bool after_special, std::vector<int32_t>* out) {
        EncodeFragment(fragment, after_special, out);
      });
}

void SpmTokenizer::EncodeFragment(std::string_view fragment, bool after_special,
                                  std::vector<int32_t>* out) const {
  std::string text;
  text.reserve(fragment.size() + fragment.size() / 4 + 3);
  if (add_space_prefix_ && after_special) text += kSpaceMarker;
  for (char c : fragment) {
    if (c == ' ') {
      text += kSpaceMarker;
    } else {
      text.push_back(c);
    }
  }
  if (text.empty()) return;

  // One symbol per UTF-8 character (by lead byte; a truncated tail is one short symbol).
  std::vector<Symbol> symbols;
  symbols.reserve(text.size());
  for (size_t offset = 0; offset < text.size();) {
    const size_t len =
        std::min(utf8::SeqLenFromLead(static_cast<uint8_t>(text[offset])), text.size() - offset);
    const int32_t index = static_cast<int32_t>(symbols.size());
    symbols.push_back({index - 1, offset + len == text.size() ? -1 : index + 1, offset, len});
    offset += len;
  }

  std::vector<Bigram> storage;
  storage.reserve(symbols.size() * 2);
  std::priority_queue<Bigram, std::vector<Bigram>, BigramOrder> queue(BigramOrder(),
                                                                      std::move(storage));
  auto try_add = [&](int32_t left, int32_t right) {
    if (left < 0 || right < 0) return;
    const size_t size = symbols[left].size + symbols[right].size;
    auto it = token_to_id_.find(std::string_view(text).substr(symbols[left].begin, size));
    if (it == token_to_id_.end()) return;
    queue.push({scores_[it->second], left, right, size});
  };
  for (int32_t i = 1; i < static_cast<int32_t>(symbols.size()); ++i) try_add(i - 1, i);

  while (!queue.empty()) {
    const Bigram bigram = queue.top();
    queue.pop();
    Symbol& left = symbols[bigram.left];
    Symbol& right = symbols[bigram.right];
    if (left.size == 0 || right.size == 0 || left.size + right.size != bigram.size) continue;
    left.size += right.size;
    right.size = 0;
    left.next = right.next;
    if (right.next >= 0) symbols[right.next].prev = bigram.left;
    try_add(left.prev, bigram.left);
    try_add(bigram.left, left.next);
  }

  for (int32_t i = 0; i != -1; i = symbols[i].next) {
    const Symbol& s = symbols[i];
    auto it = token_to_id_.find(std::string_view(text).substr(s.begin, s.size));
    if (it != token_to_id_.end()) {
      out->push_back(it->second);
      continue;
    }
    // Every merged symbol is a piece, so only single characters get here: byte fallback.
    for (size_t j = 0; j < s.size; ++j) {
      const int32_t id = byte_tokens_[static_cast<uint8_t>(text[s.begin + j])];
      if (id >= 0) {
        out->push_back(id);
      } else if (unk_id_ >= 0) {
        out->push_back(unk_id_);
      }
    }
  }
}

std::string SpmTokenizer::TokenBytes(int32_t id, bool include_special) const {
  if (id < 0 || id >= vocab_size()) return "";
  const std::string& text = tokens_[id];
  switch (attrs_[id]) {
    case TokenAttr::kControl:
    case TokenAttr::kUnknown:
      return include_special ? text : "";
    case TokenAttr::kUserDefined:
      return text;
    case TokenAttr::kNormal: {
      std::string out;
      out.reserve(text.size());
      for (size_t i = 0; i < text.size();) {
        if (text.compare(i, kSpaceMarker.size(), kSpaceMarker) == 0) {
          out.push_back(' ');
          i += kSpaceMarker.size();
        } else {
          out.push_back(text[i++]);
        }
      }
      return out;
    }
    case TokenAttr::kByte: {
      if (text.size() == 6 && text.compare(0, 3, "<0x") == 0) {
        const int hi = HexValue(text[3]), lo = HexValue(text[4]);
        if (hi >= 0 && lo >= 0) return std::string(1, static_cast<char>(hi * 16 + lo));
      }
      return text;
    }
    default:  // unused / undefined tokens print nothing, as in llama.cpp
      return "";
  }
}

}  // namespace parley
