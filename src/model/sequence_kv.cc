#include "model/sequence_kv.h"

#include <algorithm>

#include "base/check.h"

namespace parley {

SequenceKv::SequenceKv(const ModelConfig& config, int32_t max_tokens, KvDtype dtype,
                       const std::string& sharing, int32_t max_chunk)
    : max_tokens_(max_tokens) {
  StatusOr<KvLayout> layout = MakeKvLayout(config, sharing);
  PARLEY_CHECK(layout.ok()) << layout.status().message();
  KvCacheOptions options;
  options.dtype = dtype;
  options.max_context = max_tokens;
  options.page_size = 16;
  options.max_chunk = std::min(max_chunk, max_tokens);
  // The arena is split between groups in proportion to what one sequence needs; a
  // quarter more than that absorbs the rounding.
  int64_t need_bytes = 0;
  for (const KvGroup& g : layout->groups()) {
    const int32_t span =
        g.window == 0 ? max_tokens : std::min(max_tokens, g.window + options.max_chunk - 1 + options.page_size);
    PagePoolShape shape{options.page_size, static_cast<int32_t>(g.owner_layers.size()), config.kv_dim(), dtype};
    need_bytes += (span / options.page_size + 3) * static_cast<int64_t>(shape.page_bytes());
  }
  options.arena_bytes = need_bytes + need_bytes / 4 + (64 << 10);
  auto cache = KvCache::Create(*layout, options);
  PARLEY_CHECK(cache.ok()) << cache.status().message();
  cache_ = std::move(cache).value();
  seq_ = cache_->NewSeq();
}

bool SequenceKv::CanTruncateTo(int32_t n) const {
  return n >= 0 && n <= num_tokens_ && cache_->CanResumeAt(seq_, n);
}

void SequenceKv::Truncate(int32_t n) {
  PARLEY_CHECK(n == 0 || CanTruncateTo(n)) << "cannot rewind to " << n;
  if (n == 0) {
    cache_->Free(&seq_);
  } else {
    cache_->Truncate(&seq_, n);
  }
  num_tokens_ = n;
}

bool SequenceKv::Reserve(int32_t n) {
  if (num_tokens_ + n > max_tokens_) return false;
  return cache_->Reserve(&seq_, num_tokens_, num_tokens_ + n);
}

void SequenceKv::Advance(int32_t n) {
  num_tokens_ += n;
  cache_->ReleaseOutsideWindow(&seq_, num_tokens_);
}

}  // namespace parley
