// Splits text around literal occurrences of special tokens (control, user-defined and
// unknown tokens) before the model's own tokenizer sees it, exactly as llama.cpp's
// tokenizer_st_partition: tokens are tried longest first, each taking its leftmost
// non-overlapping occurrences inside the text not yet claimed by a longer one.
// Immutable after construction; Partition is thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace parley {

enum class TokenAttr : int32_t;

class SpecialTokenMatcher {
 public:
  // `tokens` and `attrs` are parallel arrays over the vocabulary.
  SpecialTokenMatcher(const std::vector<std::string>& tokens, const std::vector<TokenAttr>& attrs);

  // A piece of the input: either a special token or a run of plain text.
  struct Fragment {
    int32_t token = -1;  // -1: plain text
    size_t begin = 0;    // byte range in the input (for tokens too)
    size_t size = 0;
  };

  // Control and unknown tokens are matched only when `parse_special`; user-defined tokens
  // always. Fragments cover `text` in order; empty text gives no fragments.
  std::vector<Fragment> Partition(std::string_view text, bool parse_special) const;

  size_t num_special_tokens() const { return num_special_; }

 private:
  struct Node {
    int32_t token = -1;       // special token ending here, -1 if none
    int32_t rank = 0;         // its priority: 0 is tried first
    bool always = false;      // matched even without parse_special (user-defined)
    uint32_t first_edge = 0;  // this node's children: edges_[first_edge, first_edge + num_edges)
    uint32_t num_edges = 0;
  };
  struct Edge {
    uint8_t byte;
    int32_t child;
  };
  int32_t Child(int32_t node, uint8_t byte) const;

  std::vector<Node> nodes_;  // trie over the special texts; 0 is the root
  std::vector<Edge> edges_;  // grouped by parent, sorted by byte within a group
  bool starts_[256] = {};    // bytes that begin some special text
  size_t num_special_ = 0;
  std::vector<int32_t> rank_token_;  // rank -> token id (tokens with duplicate texts included)
  std::vector<size_t> rank_size_;    // rank -> text length
};

}  // namespace parley
