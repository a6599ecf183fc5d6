// PagePool: a stack of free page ids plus a reference count per page over caller-owned
// memory, and the KV element types a page can store.
#include "kv/page_pool.h"

#include <cstdint>

#include "base/check.h"
#include "kernels/kv_int8.h"

namespace parley {

size_t KvDtypeBytes(KvDtype dtype) {
  switch (dtype) {
    case KvDtype::kF32:
      return 4;
    case KvDtype::kF16:
      return 2;
    case KvDtype::kI8:
      return 1;
  }
  PARLEY_CHECK(false) << "bad KvDtype " << static_cast<int>(dtype);
  return 0;
}

const char* KvDtypeName(KvDtype dtype) {
  switch (dtype) {
    case KvDtype::kF32:
      return "f32";
    case KvDtype::kF16:
      return "f16";
    case KvDtype::kI8:
      return "int8";
  }
  PARLEY_CHECK(false) << "bad KvDtype " << static_cast<int>(dtype);
  return "";
}

StatusOr<KvDtype> ParseKvDtype(const std::string& name) {
  if (name == "f32") return KvDtype::kF32;
  if (name == "f16") return KvDtype::kF16;
  if (name == "int8" || name == "i8") return KvDtype::kI8;
  return Status::InvalidArgument("unknown KV cache type '" + name + "' (expected f32, f16 or int8)");
}

size_t KvRowBytes(KvDtype dtype, int32_t kv_dim, int32_t head_dim) {
  PARLEY_DCHECK(head_dim >= 1 && kv_dim % head_dim == 0) << "kv_dim " << kv_dim << ", head_dim " << head_dim;
  if (dtype != KvDtype::kI8) return static_cast<size_t>(kv_dim) * KvDtypeBytes(dtype);
  return static_cast<size_t>(kv_dim / head_dim) * KvI8HeadBytes(head_dim);  // values and f16 scales per head
}

size_t PagePoolShape::page_bytes() const {
  return static_cast<size_t>(owners) * 2 * static_cast<size_t>(page_size) * row_bytes();
}

PagePool::PagePool(const PagePoolShape& shape, uint8_t* memory, int32_t num_pages)
    : shape_(shape), memory_(memory), num_pages_(num_pages) {
  PARLEY_CHECK(shape.page_size >= 1 && shape.owners >= 1 && shape.kv_dim >= 1 && shape.head_dim >= 1 &&
               shape.kv_dim % shape.head_dim == 0)
      << "page_size " << shape.page_size << ", owners " << shape.owners << ", kv_dim " << shape.kv_dim
      << ", head_dim " << shape.head_dim;
  page_bytes_ = shape.page_bytes();
  row_bytes_ = shape.row_bytes();
  PARLEY_CHECK(num_pages >= 0) << num_pages;
  PARLEY_CHECK(num_pages == 0 ||
               (memory != nullptr && reinterpret_cast<uintptr_t>(memory) % 64 == 0))
      << "page memory must be 64-byte aligned";
  // Pushed in reverse so that a fresh pool hands out pages 0, 1, 2, ...
  free_.reserve(num_pages);
  for (int32_t p = num_pages - 1; p >= 0; --p) free_.push_back(p);
  refcounts_.assign(num_pages, 0);
}

int32_t PagePool::Allocate() {
  if (free_.empty()) return -1;
  const int32_t page = free_.back();
  free_.pop_back();
  PARLEY_DCHECK(refcounts_[page] == 0) << "free page " << page << " has refcount "
                                       << refcounts_[page];
  refcounts_[page] = 1;
  return page;
}

void PagePool::AddRef(int32_t page) {
  PARLEY_CHECK(page >= 0 && page < num_pages_) << "page " << page << " of " << num_pages_;
  PARLEY_CHECK(refcounts_[page] > 0) << "AddRef on free page " << page;
  ++refcounts_[page];
}

void PagePool::Release(int32_t page) {
  PARLEY_CHECK(page >= 0 && page < num_pages_) << "page " << page << " of " << num_pages_;
  PARLEY_CHECK(refcounts_[page] > 0) << "Release of free page " << page;
  if (--refcounts_[page] == 0) free_.push_back(page);
}

Status PagePool::CheckIntegrity() const {
  if (static_cast<int32_t>(refcounts_.size()) != num_pages_) {
    return Status::Error("page pool: " + std::to_string(refcounts_.size()) +
                         " refcounts for " + std::to_string(num_pages_) + " pages");
  }
  if (free_.size() > refcounts_.size()) {
    return Status::Error("page pool: " + std::to_string(free_.size()) + " free entries for " +
                         std::to_string(num_pages_) + " pages");
  }
  std::vector<uint8_t> listed(num_pages_, 0);
  for (int32_t page : free_) {
    if (page < 0 || page >= num_pages_) {
      return Status::Error("page pool: free list holds page " + std::to_string(page) +
                           ", out of range [0, " + std::to_string(num_pages_) + ")");
    }
    if (listed[page]) {
      return Status::Error("page pool: page " + std::to_string(page) +
                           " is on the free list twice");
    }
    listed[page] = 1;
  }
  for (int32_t page = 0; page < num_pages_; ++page) {
    const int32_t rc = refcounts_[page];
    if (rc < 0) {
      return Status::Error("page pool: page " + std::to_string(page) + " has refcount " +
                           std::to_string(rc));
    }
    if (listed[page] && rc != 0) {
      return Status::Error("page pool: page " + std::to_string(page) +
                           " is on the free list with refcount " + std::to_string(rc));
    }
    if (!listed[page] && rc == 0) {
      return Status::Error("page pool: page " + std::to_string(page) +
                           " has refcount 0 but is not on the free list");
    }
  }
  return Status::Ok();
}

}  // namespace parley
