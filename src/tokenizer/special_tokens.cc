// Special-token partitioning. Instead of scanning the text once per special token (Gemma has
// ~6,400 of them), all occurrences are found in one pass over a byte trie and then accepted
// in llama.cpp's priority order, which gives the same fragments.
#include "tokenizer/special_tokens.h"

#include <algorithm>
#include <map>
#include <string>

#include "tokenizer/tokenizer.h"

namespace parley {

SpecialTokenMatcher::SpecialTokenMatcher(const std::vector<std::string>& tokens,
                                         const std::vector<TokenAttr>& attrs) {
  std::vector<int32_t> ids;
  for (size_t id = 0; id < tokens.size(); ++id) {
    const TokenAttr a = attrs[id];
    if ((a == TokenAttr::kControl || a == TokenAttr::kUserDefined || a == TokenAttr::kUnknown) &&
        !tokens[id].empty()) {
      ids.push_back(static_cast<int32_t>(id));
    }
  }
  // Longest first; equal lengths by id so the order is deterministic.
  std::stable_sort(ids.begin(), ids.end(),
                   [&](int32_t a, int32_t b) { return tokens[a].size() > tokens[b].size(); });
  // Build with ordered child maps, then flatten them into one edge array.
  std::vector<std::map<uint8_t, int32_t>> children(1);
  nodes_.emplace_back();
  for (size_t r = 0; r < ids.size(); ++r) {
    const int32_t id = ids[r];
    const std::string& text = tokens[id];
    rank_token_.push_back(id);
    rank_size_.push_back(text.size());
    starts_[static_cast<uint8_t>(text[0])] = true;
    int32_t node = 0;
    for (char c : text) {
      auto [it, inserted] =
          children[node].try_emplace(static_cast<uint8_t>(c), static_cast<int32_t>(nodes_.size()));
      if (inserted) {
        nodes_.emplace_back();
        children.emplace_back();
      }
      node = it->second;
    }
    // Duplicate texts: the first (lowest rank) wins, as it is tried first in llama.cpp.
    if (nodes_[node].token < 0) {
      nodes_[node].token = id;
      nodes_[node].rank = static_cast<int32_t>(r);
      nodes_[node].always = attrs[id] == TokenAttr::kUserDefined;
    }
  }
  for (size_t n = 0; n < nodes_.size(); ++n) {
    nodes_[n].first_edge = static_cast<uint32_t>(edges_.size());
    nodes_[n].num_edges = static_cast<uint32_t>(children[n].size());
    for (const auto& [byte, child] : children[n]) edges_.push_back({byte, child});
  }
  num_special_ = ids.size();
}

int32_t SpecialTokenMatcher::Child(int32_t node, uint8_t byte) const {
  const Node& n = nodes_[node];
  const Edge* begin = edges_.data() + n.first_edge;
  const Edge* end = begin + n.num_edges;
  const Edge* it =
      std::lower_bound(begin, end, byte, [](const Edge& e, uint8_t b) { return e.byte < b; });
  return (it != end && it->byte == byte) ? it->child : -1;
}

std::vector<SpecialTokenMatcher::Fragment> SpecialTokenMatcher::Partition(
    std::string_view text, bool parse_special) const {
  // Calls visit(node, pos) for each special token occurring at each position, in position order.
  auto for_each_occurrence = [&](auto&& visit) {
    for (size_t pos = 0; pos < text.size(); ++pos) {
      if (!starts_[static_cast<uint8_t>(text[pos])]) continue;
      int32_t node = 0;
      for (size_t end = pos; end < text.size(); ++end) {
        node = Child(node, static_cast<uint8_t>(text[end]));
        if (node < 0) break;
        const Node& n = nodes_[node];
        if (n.token >= 0 && (parse_special || n.always)) visit(n, pos);
      }
    }
  };
  // Occurrence start positions bucketed by rank (a two-pass counting sort), so buckets are in
  // priority order and each bucket is in position order. Runs of spaces produce many
  // occurrences (one per position and run-token length); 4 bytes each keeps that cheap.
  std::vector<uint32_t> bucket_end;
  std::vector<uint32_t> begins;
  if (num_special_ > 0) {
    bucket_end.assign(num_special_ + 1, 0);
    for_each_occurrence([&](const Node& n, size_t) { ++bucket_end[n.rank + 1]; });
    for (size_t r = 1; r <= num_special_; ++r) bucket_end[r] += bucket_end[r - 1];
    begins.resize(bucket_end[num_special_]);
    for_each_occurrence([&](const Node& n, size_t pos) {
      begins[bucket_end[n.rank]++] = static_cast<uint32_t>(pos);
    });
  }

  // Accept in priority order; within one token, left to right. An occurrence is taken only
  // if none of its bytes belongs to an earlier accepted one.
  std::vector<Fragment> specials;
  if (!begins.empty()) {
    std::vector<uint8_t> claimed(text.size(), 0);
    uint32_t bucket_begin = 0;
    for (size_t r = 0; r < num_special_; ++r) {
      // After the fill pass bucket_end[r] is where bucket r ends.
      const int32_t token = rank_token_[r];
      const size_t size = rank_size_[r];
      for (uint32_t i = bucket_begin; i < bucket_end[r]; ++i) {
        const size_t b = begins[i];
        bool free = true;
        for (size_t k = b; k < b + size && free; ++k) free = claimed[k] == 0;
        if (!free) continue;
        std::fill(claimed.begin() + b, claimed.begin() + b + size, 1);
        specials.push_back({token, b, size});
      }
      bucket_begin = bucket_end[r];
    }
    std::sort(specials.begin(), specials.end(),
              [](const Fragment& a, const Fragment& b) { return a.begin < b.begin; });
  }

  std::vector<Fragment> out;
  size_t pos = 0;
  for (const Fragment& s : specials) {
    if (s.begin > pos) out.push_back({-1, pos, s.begin - pos});
    out.push_back(s);
    pos = s.begin + s.size;
  }
  if (pos < text.size()) out.push_back({-1, pos, text.size() - pos});
  return out;
}

}  // namespace parley
