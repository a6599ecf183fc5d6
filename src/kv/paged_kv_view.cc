#include "kv/paged_kv_view.h"

#include <algorithm>
#include <cstring>

#include "kernels/kv_int8.h"
#include "kernels/quant.h"

namespace parley {

PagedKvView::PagedKvView(KvCache* cache)
    : cache_(cache),
      kv_heads_(cache->layout().kv_dim() / cache->layout().head_dim()),
      head_dim_(cache->layout().head_dim()) {
  const KvDtype dtype = cache->dtype();
  format_ = dtype == KvDtype::kI8    ? KvRowFormat::kI8
            : dtype == KvDtype::kF16 ? KvRowFormat::kF16
                                     : KvRowFormat::kF32;
  head_bytes_ = KvRowBytes(dtype, head_dim_, head_dim_);
  row_bytes_ = KvRowBytes(dtype, kv_heads_ * head_dim_, head_dim_);
}

void PagedKvView::Store(const SeqKv& seq, int32_t layer, int32_t pos, const float* k, const float* v) {
  const int32_t kv_dim = kv_heads_ * head_dim_;
  uint8_t* kd = cache_->k_row(seq, layer, pos);
  uint8_t* vd = cache_->v_row(seq, layer, pos);
  switch (format_) {
    case KvRowFormat::kF32:
      std::memcpy(kd, k, sizeof(float) * kv_dim);
      std::memcpy(vd, v, sizeof(float) * kv_dim);
      break;
    case KvRowFormat::kF16:
      QuantizeRow(TensorType::kF16, k, kd, kv_dim);
      QuantizeRow(TensorType::kF16, v, vd, kv_dim);
      break;
    case KvRowFormat::kI8:
      QuantizeKvRowI8(k, kv_heads_, head_dim_, kd);
      QuantizeKvRowI8(v, kv_heads_, head_dim_, vd);
      break;
  }
}

void PagedKvView::HeadRows(const SeqKv& seq, int32_t layer, int32_t kv_head, int32_t lo, int32_t len,
                           const uint8_t** k, const uint8_t** v) const {
  const int32_t page_size = cache_->page_size();
  const size_t off = static_cast<size_t>(kv_head) * head_bytes_;
  for (int32_t j = 0; j < len;) {
    const int32_t pos = lo + j;
    const int32_t run = std::min(len - j, page_size - pos % page_size);
    const uint8_t* kr = cache_->k_row(seq, layer, pos) + off;
    const uint8_t* vr = cache_->v_row(seq, layer, pos) + off;
    for (int32_t i = 0; i < run; ++i, ++j) {
      k[j] = kr + i * row_bytes_;
      v[j] = vr + i * row_bytes_;
    }
  }
}

}  // namespace parley
