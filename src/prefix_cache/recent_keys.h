// RecentKeys: a fixed-size, lossy memory of 64-bit hash keys; the prefix cache keeps the
// first-page keys it evicted in one, so a later miss on such a page counts as "evicted"
// rather than "new". One slot per key, chosen by the key's low bits: a newer key in the same
// slot replaces the older one, so the memory used never changes however many keys pass
// through (a long-running server evicts a key per conversation; an unbounded set grew with
// every one). A key no longer found was overwritten: its miss counts as "new". Key 0 marks
// an empty slot and is never remembered. Not thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace parley {

class RecentKeys {
 public:
  // REQUIRES: 0 <= log2_slots < 32.
  explicit RecentKeys(int log2_slots = 14) : slots_(size_t{1} << log2_slots, 0) {}

  void Insert(uint64_t key) { slots_[Slot(key)] = key; }
  void Erase(uint64_t key) {
    if (Contains(key)) slots_[Slot(key)] = 0;
  }
  bool Contains(uint64_t key) const { return key != 0 && slots_[Slot(key)] == key; }
  size_t capacity() const { return slots_.size(); }

 private:
  size_t Slot(uint64_t key) const { return static_cast<size_t>(key) & (slots_.size() - 1); }

  std::vector<uint64_t> slots_;  // [capacity] a key, or 0
};

}  // namespace parley
