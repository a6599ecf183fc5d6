// Byte-level BPE: pre-tokenizer split, byte-to-unicode mapping, rank-driven merges with a
// priority queue, and decoding back to bytes.
#include "tokenizer/bpe_tokenizer.h"

#include <queue>

#include "tokenizer/utf8.h"

namespace parley {
namespace {

// Highest mapped code point is U+0143 (256 + 68 - 1).
constexpr uint32_t kMaxMappedCpt = 0x144;

struct Symbol {
  int32_t prev;
  int32_t next;
  size_t begin;  // byte offset in the encoded word
  size_t size;   // 0 once merged into its left neighbour
};

struct Bigram {
  int32_t rank;
  int32_t left;
  int32_t right;
  size_t size;  // bytes of left + right when queued; stale if it no longer matches
};

// Lowest rank first; equal ranks: leftmost first.
struct BigramOrder {
  bool operator()(const Bigram& a, const Bigram& b) const {
    return a.rank > b.rank || (a.rank == b.rank && a.left > b.left);
  }
};

bool IsDirectByte(int b) {
  return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
}

// Code point -> byte for GPT-2's mapping; -1 for code points it never produces.
const std::array<int16_t, kMaxMappedCpt>& UnicodeToByte() {
  static const auto* table = [] {
    auto* t = new std::array<int16_t, kMaxMappedCpt>;
    t->fill(-1);
    uint32_t next = 256;
    for (int b = 0; b < 256; ++b) (*t)[IsDirectByte(b) ? b : next++] = static_cast<int16_t>(b);
    return t;
  }();
  return *table;
}

}  // namespace

const std::array<std::string, 256>& BpeTokenizer::ByteToUnicode() {
  static const auto* table = [] {
    auto* t = new std::array<std::string, 256>;
    uint32_t next = 256;
    for (int b = 0; b < 256; ++b) (*t)[b] = utf8::Encode(IsDirectByte(b) ? b : next++);
    return t;
  }();
  return *table;
}

StatusOr<std::unique_ptr<Tokenizer>> BpeTokenizer::Create(TokenizerSpec spec) {
  PARLEY_ASSIGN_OR_RETURN(PreTokenizer pre, PreTokenizer::ForName(spec.pre));
  const bool default_add_bos = pre.default_add_bos();
  std::unique_ptr<BpeTokenizer> tok(new BpeTokenizer(std::move(pre)));
  tok->ranks_.reserve(spec.merges.size());
  for (size_t i = 0; i < spec.merges.size(); ++i) {
    const std::string& m = spec.merges[i];
    const size_t space = m.find(' ', 1);
    if (space == std::string::npos) continue;
    tok->ranks_.try_emplace(m, static_cast<int32_t>(i));  // the first rank of a pair wins
  }
  spec.merges.clear();
  // GPT-2 vocabularies have no SPM-style defaults: llama.cpp uses id 11 for bos and eos.
  PARLEY_RETURN_IF_ERROR(tok->InitVocab(&spec, /*default_bos=*/11, /*default_eos=*/11,
                                        /*default_unk=*/-1, default_add_bos));
  return std::unique_ptr<Tokenizer>(std::move(tok));
}

std::vector<int32_t> BpeTokenizer::Encode(std::string_view text, bool add_special,
                                          bool parse_special) const {
  return EncodeWithSpecials(text, add_special, parse_special,
                            [this](std::string_view fragment, bool /*after_special*/,
                                   std::vector<int32_t>* out) { EncodeFragment(fragment, out); });
}

void BpeTokenizer::EncodeFragment(std::string_view fragment, std::vector<int32_t>* out) const {
  // Like llama.cpp, malformed UTF-8 becomes U+FFFD before splitting.
  const std::string clean = utf8::Sanitize(fragment);
  const auto& byte_to_unicode = ByteToUnicode();
  std::string word;
  for (std::string_view piece : pre_.Split(clean)) {
    word.clear();
    for (char c : piece) word += byte_to_unicode[static_cast<uint8_t>(c)];
    EncodeWord(word, out);
  }
}

int32_t BpeTokenizer::Rank(std::string_view left, std::string_view right,
                           std::string* scratch) const {
  scratch->assign(left);
  scratch->push_back(' ');
  scratch->append(right);
  auto it = ranks_.find(*scratch);
  return it == ranks_.end() ? -1 : it->second;
}

void BpeTokenizer::EncodeWord(const std::string& word, std::vector<int32_t>* out) const {
  if (word.empty()) return;
  if (pre_.ignore_merges()) {
    auto it = token_to_id_.find(word);
    if (it != token_to_id_.end()) {
      out->push_back(it->second);
      return;
    }
  }
  std::vector<Symbol> symbols;
  for (size_t offset = 0; offset < word.size();) {
    const size_t len =
        std::min(utf8::SeqLenFromLead(static_cast<uint8_t>(word[offset])), word.size() - offset);
    const int32_t index = static_cast<int32_t>(symbols.size());
    symbols.push_back({index - 1, offset + len == word.size() ? -1 : index + 1, offset, len});
    offset += len;
  }

  const std::string_view text(word);
  std::string scratch;
  std::priority_queue<Bigram, std::vector<Bigram>, BigramOrder> queue;
  auto try_add = [&](int32_t left, int32_t right) {
    if (left < 0 || right < 0) return;
    const Symbol& l = symbols[left];
    const Symbol& r = symbols[right];
    const int32_t rank = Rank(text.substr(l.begin, l.size), text.substr(r.begin, r.size), &scratch);
    if (rank < 0) return;
    queue.push({rank, left, right, l.size + r.size});
  };
  for (int32_t i = 1; i < static_cast<int32_t>(symbols.size()); ++i) try_add(i - 1, i);

  while (!queue.empty()) {
    const Bigram bigram = queue.top();
    queue.pop();
    Symbol& left = symbols[bigram.left];
    Symbol& right = symbols[bigram.right];
    // Symbols are contiguous, so equal sizes mean the same text as when queued.
    if (left.size == 0 || right.size == 0 || left.size + right.size != bigram.size) continue;
    left.size += right.size;
    right.size = 0;
    left.next = right.next;
    if (right.next >= 0) symbols[right.next].prev = bigram.left;
    try_add(left.prev, bigram.left);
    try_add(bigram.left, left.next);
  }

  for (int32_t i = 0; i != -1; i = symbols[i].next) {
    const std::string_view sym = text.substr(symbols[i].begin, symbols[i].size);
    auto it = token_to_id_.find(sym);
    if (it != token_to_id_.end()) {
      out->push_back(it->second);
      continue;
    }
    // llama.cpp's fallback: each byte of the symbol as a one-byte token, if there is one.
    for (char c : sym) {
      auto byte_it = token_to_id_.find(std::string_view(&c, 1));
      if (byte_it != token_to_id_.end()) out->push_back(byte_it->second);
    }
  }
}

std::string BpeTokenizer::TokenBytes(int32_t id, bool include_special) const {
  if (id < 0 || id >= vocab_size()) return "";
  const std::string& text = tokens_[id];
  switch (attrs_[id]) {
    case TokenAttr::kControl:
    case TokenAttr::kUnknown:
      return include_special ? text : "";
    case TokenAttr::kUserDefined:
      return text;
    case TokenAttr::kNormal: {
      const auto& to_byte = UnicodeToByte();
      std::string out;
      out.reserve(text.size());
      for (size_t offset = 0; offset < text.size();) {
        const size_t start = offset;
        const uint32_t cpt = utf8::DecodeOne(text, &offset);
        if (cpt < kMaxMappedCpt && to_byte[cpt] >= 0) {
          out.push_back(static_cast<char>(to_byte[cpt]));
        } else {
          out.append(text, start, offset - start);  // not a mapped byte: keep it as text
        }
      }
      return out;
    }
    default:  // byte / unused / undefined tokens print nothing, as in llama.cpp
      return "";
  }
}

}  // namespace parley
