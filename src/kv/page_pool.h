// PagePool: the fixed set of KV pages of one KV group, carved from memory the caller
// provides (the KvCache arena). A page holds `page_size` consecutive positions of K and V
// for every owner layer of the group:
//   page bytes = [owners, 2 (K then V), page_size, row_bytes]
// where a row is kv_dim elements of f32 or f16, or for int8 kv_heads heads of head_dim int8
// values each followed by the head's f16 scales, one per 32 values (kernels/kv_int8.h).
// Pages are reference counted (a sequence holds one reference per page in its block
// table; the prefix cache will hold more); a page returns to the free list when its count
// drops to zero. Not thread-safe: owned by the engine thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"

namespace parley {

enum class KvDtype { kF32, kF16, kI8 };
// Bytes of one value (int8 rows add a 2-byte scale per 32 values of a head: see KvRowBytes).
size_t KvDtypeBytes(KvDtype dtype);
const char* KvDtypeName(KvDtype dtype);                   // "f32" | "f16" | "int8"
StatusOr<KvDtype> ParseKvDtype(const std::string& name);  // "f32" | "f16" | "int8" (or "i8")
// Bytes of one position's K (or V) row of one layer: kv_dim values of dtype, plus for int8
// per head of head_dim values an f16 scale per 32 of them. REQUIRES head_dim >= 1,
// kv_dim % head_dim == 0.
size_t KvRowBytes(KvDtype dtype, int32_t kv_dim, int32_t head_dim);

struct PagePoolShape {
  int32_t page_size = 16;  // positions per page
  int32_t owners = 1;      // owner layers in the group
  int32_t kv_dim = 0;      // kv_heads * head_dim
  KvDtype dtype = KvDtype::kF32;
  int32_t head_dim = 0;    // values per KV head (int8 rows keep a scale per 32 of a head's values)

  size_t page_bytes() const;
  size_t row_bytes() const { return KvRowBytes(dtype, kv_dim, head_dim); }
};

class PagePool {
 public:
  // memory: at least num_pages * shape.page_bytes() bytes, 64-byte aligned, outliving
  // the pool.
  PagePool(const PagePoolShape& shape, uint8_t* memory, int32_t num_pages);

  const PagePoolShape& shape() const { return shape_; }
  int32_t num_pages() const { return num_pages_; }
  int32_t num_free() const { return static_cast<int32_t>(free_.size()); }
  int32_t num_used() const { return num_pages_ - num_free(); }

  // A free page with reference count 1, or -1 when none is left.
  int32_t Allocate();
  void AddRef(int32_t page);
  // Drops one reference; the page is free again at zero. REQUIRES refcount(page) > 0.
  void Release(int32_t page);
  int32_t refcount(int32_t page) const { return refcounts_[page]; }

  // K / V row of `slot` (the owner layer's index in the group) at `offset` in the page
  // (0 <= offset < page_size): shape().row_bytes() bytes.
  uint8_t* k_row(int32_t page, int32_t slot, int32_t offset) { return Row(page, slot, 0, offset); }
  uint8_t* v_row(int32_t page, int32_t slot, int32_t offset) { return Row(page, slot, 1, offset); }
  const uint8_t* k_row(int32_t page, int32_t slot, int32_t offset) const {
    return const_cast<PagePool*>(this)->Row(page, slot, 0, offset);
  }
  const uint8_t* v_row(int32_t page, int32_t slot, int32_t offset) const {
    return const_cast<PagePool*>(this)->Row(page, slot, 1, offset);
  }

  // The whole page (shape().page_bytes() bytes): for copying it to and from other tiers.
  uint8_t* page_data(int32_t page) { return memory_ + static_cast<size_t>(page) * page_bytes_; }

  // Free list and refcounts agree: every page is either free (refcount 0, listed once)
  // or used (refcount > 0, not listed).
  Status CheckIntegrity() const;

 private:
  uint8_t* Row(int32_t page, int32_t slot, int32_t kv, int32_t offset) {
    return memory_ + static_cast<size_t>(page) * page_bytes_ +
           ((static_cast<size_t>(slot) * 2 + kv) * shape_.page_size + offset) * row_bytes_;
  }
  PagePoolShape shape_;
  uint8_t* memory_;
  int32_t num_pages_;
  size_t page_bytes_, row_bytes_;
  std::vector<int32_t> free_;  // stack of free page ids
  std::vector<int32_t> refcounts_;
};

}  // namespace parley
