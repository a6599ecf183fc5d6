// The forward pass's view of a KvCache: it owns the row formats (f32, f16, or int8 with an
// f16 scale per 32 values: KvRowFormat) and the page addressing, so the forward pass
// stores and reads K/V rows by (sequence, layer, position) and never sees a pool or a dtype.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/attention.h"
#include "kv/kv_cache.h"

namespace parley {

class PagedKvView {
 public:
  // Rows of the cache's layout (kv_dim, head_dim) and dtype. REQUIRES: cache outlives the view.
  explicit PagedKvView(KvCache* cache);

  // True if `layer` stores its own K/V (false: it reads an earlier layer's).
  bool stores(int32_t layer) const { return cache_->layout().is_owner(layer); }
  // How the rows are stored, for the attention kernels.
  KvRowFormat format() const { return format_; }

  // Writes one token's K and V (kv_dim f32 values each) of an owner `layer` at `pos` in the
  // cache's row format. Each row depends only on its own floats.
  // REQUIRES: the page holding pos is present.
  void Store(const SeqKv& seq, int32_t layer, int32_t pos, const float* k, const float* v);

  // k[j], v[j] = KV head `kv_head`'s part of the K and V rows at position lo + j, j < len,
  // of `layer` (resolved to its owner). One page lookup per run of positions in a page.
  void HeadRows(const SeqKv& seq, int32_t layer, int32_t kv_head, int32_t lo, int32_t len, const uint8_t** k,
                const uint8_t** v) const;

 private:
  KvCache* cache_;
  int32_t kv_heads_, head_dim_;
  KvRowFormat format_;
  size_t head_bytes_;  // one KV head's part of a row (int8: values, then scales)
  size_t row_bytes_;   // one row
};

}  // namespace parley
