// NgramPool: a bounded table, shared by every sequence of an engine, from an n-gram of
// tokens to the tokens that followed it last, learned from finished sequences. It drafts for
// a conversation from what other conversations said (a persona many users talk to, a reply
// pattern the model repeats), where the sequence's own history has no match.
// Direct-mapped by hash: a newer n-gram overwrites the slot of an older one, so memory stays
// fixed. Engine thread only.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace parley {

class NgramPool {
 public:
  // `slots` (rounded up to a power of two) entries of an n-token key and up to
  // `continuation` following tokens.
  NgramPool(int32_t slots, int32_t n, int32_t continuation);

  // Learns every n-gram of `tokens` and what followed it.
  void Add(std::span<const int32_t> tokens);
  // Appends to *draft up to max_draft tokens that followed the ending n-gram of `tokens`
  // elsewhere; returns how many.
  int32_t Lookup(std::span<const int32_t> tokens, int32_t max_draft, std::vector<int32_t>* draft) const;

  int32_t n() const { return n_; }
  int64_t bytes() const { return static_cast<int64_t>(table_.size() * sizeof(int32_t)); }

 private:
  size_t Slot(std::span<const int32_t> key) const;
  int32_t* Entry(size_t slot) { return table_.data() + slot * stride_; }
  const int32_t* Entry(size_t slot) const { return table_.data() + slot * stride_; }

  const int32_t n_;
  const int32_t continuation_;
  const size_t stride_;  // key (n), count (1), continuation
  size_t mask_ = 0;
  std::vector<int32_t> table_;
};

}  // namespace parley
