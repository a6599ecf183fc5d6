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
  // Room for one sequence of max_tokens, plus a quarter for the split's rounding.
  options.arena_bytes = KvCache::ArenaBytesFor(*layout, options, 1.25);
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
