#include "prefix_cache/host_tier.h"

#include "base/check.h"

namespace parley {

int64_t HostTier::Put(const PagePoolShape& shape, const uint8_t* page) {
  std::vector<uint8_t> blob = EncodePage(shape, codec_, page);
  const int64_t size = static_cast<int64_t>(blob.size());
  if (used_ + size > budget_) return -1;
  used_ += size;
  const int64_t id = next_id_++;
  blobs_.emplace(id, std::move(blob));
  return id;
}

void HostTier::Get(int64_t id, const PagePoolShape& shape, uint8_t* page) const {
  auto it = blobs_.find(id);
  PARLEY_CHECK(it != blobs_.end()) << "host tier page " << id << " is not stored";
  PARLEY_CHECK(DecodePage(shape, codec_, it->second, page)) << "host tier page " << id << " does not decode";
}

std::vector<uint8_t> HostTier::Take(int64_t id) {
  auto it = blobs_.find(id);
  PARLEY_CHECK(it != blobs_.end()) << "host tier page " << id << " is not stored";
  std::vector<uint8_t> blob = std::move(it->second);
  used_ -= static_cast<int64_t>(blob.size());
  blobs_.erase(it);
  return blob;
}

void HostTier::Drop(int64_t id) { Take(id); }

}  // namespace parley
