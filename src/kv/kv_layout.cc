// KvLayout::Make validates a per-layer (window, owner) description and groups the owner
// layers by span; ParseKvSharing reads the "--kv-sharing L:O,..." syntax.
#include "kv/kv_layout.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>

namespace parley {
namespace {

std::string SpanName(int32_t window) {
  return window == 0 ? "global" : "window " + std::to_string(window);
}

std::string Trim(const std::string& s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return s.substr(b, e - b);
}

// A non-negative decimal integer that fits int32 (digits only, surrounding spaces allowed).
bool ParseIndex(const std::string& text, int32_t* out) {
  const std::string s = Trim(text);
  if (s.empty() || s.size() > 9) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  *out = static_cast<int32_t>(std::strtol(s.c_str(), nullptr, 10));
  return true;
}

}  // namespace

StatusOr<KvLayout> KvLayout::Make(const std::vector<int32_t>& windows,
                                  const std::vector<int32_t>& owners, int32_t kv_dim, int32_t head_dim) {
  const int32_t n = static_cast<int32_t>(windows.size());
  if (n == 0) return Status::InvalidArgument("kv layout: the model has no layers");
  if (kv_dim < 1) {
    return Status::InvalidArgument("kv layout: kv_dim must be positive (got " +
                                   std::to_string(kv_dim) + ")");
  }
  if (head_dim < 1 || kv_dim % head_dim != 0) {
    return Status::InvalidArgument("kv layout: head_dim " + std::to_string(head_dim) +
                                   " does not divide kv_dim " + std::to_string(kv_dim));
  }
  if (!owners.empty() && owners.size() != windows.size()) {
    return Status::InvalidArgument("kv layout: " + std::to_string(n) + " layer windows but " +
                                   std::to_string(owners.size()) + " KV owners");
  }
  KvLayout layout;
  layout.kv_dim_ = kv_dim;
  layout.head_dim_ = head_dim;
  layout.windows_ = windows;
  layout.owners_.resize(n);
  for (int32_t l = 0; l < n; ++l) {
    if (windows[l] < 0) {
      return Status::InvalidArgument("kv layout: layer " + std::to_string(l) +
                                     " has a negative window (" + std::to_string(windows[l]) + ")");
    }
    layout.owners_[l] = owners.empty() ? l : owners[l];
  }
  for (int32_t l = 0; l < n; ++l) {
    const int32_t o = layout.owners_[l];
    if (o == l) continue;
    const std::string who = "kv sharing: layer " + std::to_string(l);
    if (o < 0 || o >= n) {
      return Status::InvalidArgument(who + " cannot use layer " + std::to_string(o) +
                                     "'s KV (out of range: the model has " + std::to_string(n) +
                                     " layers)");
    }
    const std::string uses = who + " cannot use layer " + std::to_string(o) + "'s KV";
    if (o > l) return Status::InvalidArgument(uses + " (owners must be earlier layers)");
    if (layout.owners_[o] != o) {
      return Status::InvalidArgument(uses + " (layer " + std::to_string(o) +
                                     " itself uses layer " + std::to_string(layout.owners_[o]) +
                                     "'s KV)");
    }
    if (windows[o] != windows[l]) {
      return Status::InvalidArgument(uses + " (layer " + std::to_string(l) + " is " +
                                     SpanName(windows[l]) + ", layer " + std::to_string(o) +
                                     " is " + SpanName(windows[o]) + ")");
    }
  }
  // Owner layers, in order, join the group of their span (created at its first owner).
  layout.group_of_.assign(n, -1);
  layout.slot_of_.assign(n, -1);
  for (int32_t l = 0; l < n; ++l) {
    if (layout.owners_[l] != l) continue;
    int32_t g = 0;
    while (g < layout.num_groups() && layout.groups_[g].window != windows[l]) ++g;
    if (g == layout.num_groups()) layout.groups_.push_back(KvGroup{windows[l], {}});
    layout.group_of_[l] = g;
    layout.slot_of_[l] = static_cast<int32_t>(layout.groups_[g].owner_layers.size());
    layout.groups_[g].owner_layers.push_back(l);
  }
  for (int32_t l = 0; l < n; ++l) {
    layout.group_of_[l] = layout.group_of_[layout.owners_[l]];
    layout.slot_of_[l] = layout.slot_of_[layout.owners_[l]];
  }
  return layout;
}

int32_t KvLayout::num_owner_layers() const {
  int32_t count = 0;
  for (const KvGroup& g : groups_) count += static_cast<int32_t>(g.owner_layers.size());
  return count;
}

std::string KvLayout::Describe() const {
  std::string s = std::to_string(num_groups()) + (num_groups() == 1 ? " group: " : " groups: ");
  for (int32_t g = 0; g < num_groups(); ++g) {
    if (g > 0) s += ", ";
    s += SpanName(groups_[g].window) + " x" + std::to_string(groups_[g].owner_layers.size()) +
         " layers [";
    for (size_t i = 0; i < groups_[g].owner_layers.size(); ++i) {
      if (i > 0) s += ' ';
      s += std::to_string(groups_[g].owner_layers[i]);
    }
    s += ']';
  }
  std::string sharing;
  for (int32_t l = 0; l < num_layers(); ++l) {
    if (is_owner(l)) continue;
    if (!sharing.empty()) sharing += ' ';
    sharing += std::to_string(l);
    sharing += ':';
    sharing += std::to_string(owners_[l]);
  }
  if (!sharing.empty()) s += "; sharing " + sharing;
  return s;
}

StatusOr<std::vector<int32_t>> ParseKvSharing(const std::string& spec, int32_t num_layers) {
  std::vector<int32_t> owners(std::max(num_layers, 0));
  for (int32_t l = 0; l < num_layers; ++l) owners[l] = l;
  if (Trim(spec).empty()) return owners;
  std::vector<bool> listed(owners.size(), false);
  size_t begin = 0;
  while (true) {
    const size_t comma = spec.find(',', begin);
    const std::string entry = spec.substr(begin, comma == std::string::npos ? std::string::npos
                                                                            : comma - begin);
    const size_t colon = entry.find(':');
    int32_t layer = 0, owner = 0;
    if (colon == std::string::npos || !ParseIndex(entry.substr(0, colon), &layer) ||
        !ParseIndex(entry.substr(colon + 1), &owner)) {
      return Status::InvalidArgument("kv sharing: bad entry '" + entry +
                                     "' (expected LAYER:OWNER, e.g. \"3:2,5:4\")");
    }
    for (int32_t index : {layer, owner}) {
      if (index >= num_layers) {
        return Status::InvalidArgument("kv sharing: entry '" + Trim(entry) + "': layer " +
                                       std::to_string(index) + " is out of range (the model has " +
                                       std::to_string(num_layers) + " layers)");
      }
    }
    if (listed[layer]) {
      return Status::InvalidArgument("kv sharing: layer " + std::to_string(layer) +
                                     " is listed twice");
    }
    listed[layer] = true;
    owners[layer] = owner;
    if (comma == std::string::npos) break;
    begin = comma + 1;
  }
  return owners;
}

}  // namespace parley
