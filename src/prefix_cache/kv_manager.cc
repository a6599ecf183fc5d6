#include "prefix_cache/kv_manager.h"

#include <algorithm>

#include "base/check.h"

namespace parley {

bool KvHandle::holds_pages() const {
  for (const auto& table : table_.pages) {
    for (int32_t page : table) {
      if (page >= 0) return true;
    }
  }
  return false;
}

void KvManager::Init(KvHandle* h) const {
  if (h->table_.pages.empty()) h->table_ = kv_->NewSeq();
}

KvManager::KvManager(KvCache* kv, PrefixCache* prefix) : kv_(kv), prefix_(prefix) {
  PARLEY_CHECK(kv != nullptr);
}

int32_t KvManager::ComputedPrefix(std::span<const int32_t> tokens, int32_t max_tokens) const {
  return prefix_ == nullptr ? 0 : prefix_->Peek(tokens, max_tokens);
}

std::vector<int32_t> KvManager::Needs(const SeqKv& seq, int32_t computed, int32_t total, int32_t watermark) const {
  std::vector<int32_t> need(kv_->num_groups());
  for (int32_t g = 0; g < kv_->num_groups(); ++g) need[g] = kv_->PagesNeeded(seq, g, computed, total) + watermark;
  return need;
}

bool KvManager::Fits(const SeqKv& seq, int32_t computed, int32_t total, int32_t watermark) const {
  const std::vector<int32_t> need = Needs(seq, computed, total, watermark);
  for (int32_t g = 0; g < kv_->num_groups(); ++g) {
    if (need[g] > kv_->pool(g).num_free()) return false;
  }
  return true;
}

bool KvManager::Admit(const AdmitRequest& req, KvHandle* h, Admission* out) {
  Init(h);
  SeqKv* seq = &h->table_;
  PrefixCache::MatchInfo match;
  int32_t computed = req.computed;
  if (prefix_ != nullptr && computed == 0) {
    // At least one token is left to compute: its logits pick the next token.
    computed = prefix_->Match(req.tokens, static_cast<int32_t>(req.tokens.size()) - 1, seq, &match, /*record=*/false);
  }
  const int32_t n = req.chunk(computed);
  const bool wait = match.lacked_room && req.wait_for_restore;
  if (n <= 0 || wait ||
      (!Fits(*seq, computed, computed + n, req.watermark) &&
       !(prefix_ != nullptr && prefix_->MakeRoom(Needs(*seq, computed, computed + n, req.watermark))))) {
    kv_->Free(seq);  // undoes the pins and restores of the lookup
    return false;
  }
  if (prefix_ != nullptr) prefix_->Record(match);
  PARLEY_CHECK(kv_->Reserve(seq, computed, computed + n));
  *out = Admission{computed, n, match.host_tokens, match.disk_tokens};
  return true;
}

bool KvManager::Reserve(KvHandle* h, int32_t computed, int32_t total) {
  Init(h);
  SeqKv* seq = &h->table_;
  while (!kv_->Reserve(seq, computed, total)) {
    if (prefix_ == nullptr || !prefix_->MakeRoom(Needs(*seq, computed, total, 0))) return false;
  }
  return true;
}

void KvManager::Offer(const KvHandle& h, std::span<const int32_t> tokens, int32_t computed, int32_t num_prompt) {
  if (prefix_ == nullptr || computed <= 0 || h.table_.pages.empty()) return;
  const int32_t boundaries[] = {std::min(num_prompt, computed), computed};
  prefix_->Insert(tokens, computed, h.table_, boundaries);
}

void KvManager::Free(KvHandle* h, std::span<const int32_t> tokens, int32_t computed, int32_t num_prompt,
                     bool cache_pages) {
  if (h->table_.pages.empty()) return;  // never held a page
  if (cache_pages) Offer(*h, tokens, computed, num_prompt);
  kv_->Free(&h->table_);
}

bool KvManager::Fork(const KvHandle& from, int32_t computed, KvHandle* to) {
  PARLEY_CHECK(!to->holds_pages()) << "Fork into a handle that holds pages";
  SeqKv table = kv_->NewSeq();
  if (!kv_->Fork(from.table_, computed, &table)) {
    // At most one page per group (the partial page's copy): from what only the cache holds.
    if (prefix_ == nullptr || !prefix_->MakeRoom(std::vector<int32_t>(kv_->num_groups(), 1)) ||
        !kv_->Fork(from.table_, computed, &table)) {
      return false;
    }
  }
  to->table_ = std::move(table);
  return true;
}

void KvManager::Release(KvHandle* h, int32_t computed) {
  if (!h->table_.pages.empty()) kv_->ReleaseOutsideWindow(&h->table_, computed);
}

void KvManager::Truncate(KvHandle* h, int32_t n) {
  if (!h->table_.pages.empty()) kv_->Truncate(&h->table_, n);
}

bool KvManager::CanResumeAt(const KvHandle& h, int32_t computed) const {
  if (h.table_.pages.empty()) return computed == 0;
  return kv_->CanResumeAt(h.table_, computed);
}

Status KvManager::CheckIntegrity(const std::vector<const KvHandle*>& handles) const {
  std::vector<const SeqKv*> tables;
  for (const KvHandle* h : handles) {
    if (!h->table_.pages.empty()) tables.push_back(&h->table_);
  }
  SeqKv held;
  if (prefix_ != nullptr) {
    PARLEY_RETURN_IF_ERROR(prefix_->CheckIntegrity());
    held = prefix_->HeldPages();
    tables.push_back(&held);
  }
  return kv_->CheckIntegrity(tables, /*exact=*/true);
}

}  // namespace parley
