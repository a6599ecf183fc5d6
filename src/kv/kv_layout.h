// KvLayout: how a model's layers map onto KV storage. Each layer has an attention span
// (global, or a sliding window of W tokens) and a KV owner: itself, or an earlier layer of
// the same span whose K/V it reads (cross-layer KV sharing, Character.AI style). Owner
// layers with the same span form a KV group; each group gets its own page pool. Immutable
// after Make(); safe to share between threads.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"

namespace parley {

struct KvGroup {
  int32_t window = 0;                 // 0: global; else keys [p - window + 1, p]
  std::vector<int32_t> owner_layers;  // ascending; slot i of a page holds owner_layers[i]
};

class KvLayout {
 public:
  // windows[l]: layer l's span (0 = global). owners[l]: the layer whose K/V layer l uses
  // (owners[l] == l for a layer with its own K/V); empty `owners` means no sharing.
  // kv_dim: kv_heads * head_dim values per token per layer for K (and again for V);
  // head_dim matters to int8 rows (scales per group of 32 within a head).
  // Errors: sizes differ, head_dim does not divide kv_dim, an owner that is later than the
  // layer or out of range, an owner that itself shares, or an owner with a different span.
  static StatusOr<KvLayout> Make(const std::vector<int32_t>& windows,
                                 const std::vector<int32_t>& owners, int32_t kv_dim, int32_t head_dim);

  int32_t num_layers() const { return static_cast<int32_t>(windows_.size()); }
  int32_t kv_dim() const { return kv_dim_; }
  int32_t head_dim() const { return head_dim_; }
  int32_t window(int32_t layer) const { return windows_[layer]; }
  int32_t owner(int32_t layer) const { return owners_[layer]; }
  bool is_owner(int32_t layer) const { return owners_[layer] == layer; }
  // The group and the slot in that group's pages holding layer's K/V (its owner's).
  int32_t group_of(int32_t layer) const { return group_of_[layer]; }
  int32_t slot_of(int32_t layer) const { return slot_of_[layer]; }
  const std::vector<KvGroup>& groups() const { return groups_; }
  int32_t num_groups() const { return static_cast<int32_t>(groups_.size()); }
  // Layers that own K/V (the others allocate nothing).
  int32_t num_owner_layers() const;
  // A one-line description, groups in order, e.g.
  // "2 groups: window 512 x5 layers [0 1 2 3 4], global x1 layers [5]" (plus
  // "; sharing 3:2 5:4" when layers share).
  std::string Describe() const;

 private:
  int32_t kv_dim_ = 0, head_dim_ = 0;
  std::vector<int32_t> windows_, owners_, group_of_, slot_of_;
  std::vector<KvGroup> groups_;
};

// Parses a sharing map "L:O,L:O,..." (layer L reads the K/V of layer O) into a per-layer
// owner vector for `num_layers` layers (unlisted layers own their K/V). "" means no
// sharing. Errors name the bad entry.
StatusOr<std::vector<int32_t>> ParseKvSharing(const std::string& spec, int32_t num_layers);

}  // namespace parley
