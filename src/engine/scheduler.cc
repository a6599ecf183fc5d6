#include "engine/scheduler.h"

#include <algorithm>

#include "base/check.h"

namespace parley {

ScheduledSeq::ScheduledSeq(Sequence* s, int32_t n)
    : seq(s), num_new(n), start(s->num_computed),
      logits_from(s->num_computed + n == s->num_tokens() ? n - 1 : n) {}

void ScheduledSeq::WantLogitsFrom(int32_t position) {
  const int32_t first = std::max(start, position);
  if (first < start + num_new) logits_from = std::min(logits_from, first - start);
}

ForwardSeq ToForwardSeq(const ScheduledSeq& x) {
  Sequence& s = *x.seq;
  ForwardSeq fs;
  fs.kv = &s.kv;
  fs.tokens = std::span<const int32_t>(s.tokens.data() + x.start, x.num_new);
  fs.start = x.start;
  fs.logits_from = x.logits_from;
  return fs;
}

Scheduler::Scheduler(KvCache* cache, const SchedulerOptions& options, PrefixCache* prefix)
    : cache_(cache), options_(options), prefix_(prefix) {
  PARLEY_CHECK(options.max_batch_tokens > 0 && options.max_seqs > 0);
}

void Scheduler::Add(Sequence* seq) {
  if (seq->kv.pages.empty()) seq->kv = cache_->NewSeq();
  seq->state = SeqState::kWaiting;
  seq->enqueued_step = step_;
  waiting_.push_back(seq);
}

bool Scheduler::Fits(const Sequence& seq, int32_t num_new, int32_t watermark) const {
  const std::vector<int32_t> need = Needs(seq, num_new, watermark);
  for (int32_t g = 0; g < cache_->num_groups(); ++g) {
    if (need[g] > cache_->pool(g).num_free()) return false;
  }
  return true;
}

std::vector<int32_t> Scheduler::Needs(const Sequence& seq, int32_t num_new, int32_t watermark) const {
  std::vector<int32_t> need(cache_->num_groups());
  for (int32_t g = 0; g < cache_->num_groups(); ++g) {
    need[g] = cache_->PagesNeeded(seq.kv, g, seq.num_computed, seq.num_computed + num_new) + watermark;
  }
  return need;
}

void Scheduler::CachePages(const Sequence& seq) {
  if (prefix_ == nullptr || seq.num_computed <= 0) return;
  const int32_t boundaries[] = {std::min(seq.num_prompt, seq.num_computed), seq.num_computed};
  prefix_->Insert(seq.tokens, seq.num_computed, seq.kv, boundaries);
}

void Scheduler::Preempt(Sequence* seq) {
  CachePages(*seq);  // its pages stay cached (and spill rather than vanish when evicted)
  cache_->Free(&seq->kv);
  seq->num_computed = 0;
  seq->state = SeqState::kWaiting;
  running_.erase(std::find(running_.begin(), running_.end(), seq));
  seq->enqueued_step = step_;
  waiting_.push_front(seq);
  ++seq->num_preemptions;
  ++num_preemptions_;
}

std::deque<Sequence*>::iterator Scheduler::PickNext() {
  auto head = waiting_.begin();
  if (prefix_ == nullptr || options_.cache_aware_window <= 1 || step_ - (*head)->enqueued_step >= options_.max_wait_steps) {
    return head;
  }
  auto best = head;
  int32_t best_len = -1;
  int32_t k = 0;
  for (auto it = waiting_.begin(); it != waiting_.end() && k < options_.cache_aware_window; ++it, ++k) {
    const Sequence& s = **it;
    const int32_t len = s.num_computed > 0 ? s.num_computed : prefix_->Peek(s.tokens, s.num_tokens() - 1);
    if (len > best_len) {
      best = it;
      best_len = len;
    }
  }
  return best;
}

SchedulerOutput Scheduler::Schedule() {
  ++step_;
  SchedulerOutput out;
  int32_t budget = options_.max_batch_tokens;
  auto chunk = [&](const Sequence& s) {
    int32_t n = std::min(s.num_pending(), budget);
    return s.max_chunk > 0 ? std::min(n, s.max_chunk) : n;
  };

  // Running sequences: decodes first (one pending token), then prefills; oldest first.
  std::vector<Sequence*> order;
  for (Sequence* s : running_) if (s->num_pending() == 1) order.push_back(s);
  for (Sequence* s : running_) if (s->num_pending() != 1) order.push_back(s);
  for (Sequence* s : order) {
    if (budget == 0) break;
    if (s->state != SeqState::kRunning) continue;  // preempted earlier in this loop
    const int32_t n = chunk(*s);
    if (n <= 0) continue;
    while (!cache_->Reserve(&s->kv, s->num_computed, s->num_computed + n)) {
      // Out of pages: first what only the prefix cache holds, then the newest running
      // sequence gives its pages back.
      if (prefix_ != nullptr && prefix_->MakeRoom(Needs(*s, n, 0))) continue;
      Sequence* victim = running_.back();
      auto it = std::find_if(out.scheduled.begin(), out.scheduled.end(),
                             [&](const ScheduledSeq& x) { return x.seq == victim; });
      if (it != out.scheduled.end()) {
        budget += it->num_new;
        out.scheduled.erase(it);
      }
      Preempt(victim);
      out.preempted.push_back(victim);
      if (victim == s) break;
    }
    if (s->state != SeqState::kRunning) continue;
    out.scheduled.push_back({s, n});
    budget -= n;
  }

  // Admissions, in arrival order, while pages, budget and seats last. None in a step
  // that had to preempt: memory is tight.
  int32_t seats = num_seats_taken();
  while (budget > 0 && out.preempted.empty() && !waiting_.empty() && seats < options_.max_seqs) {
    const auto pick = PickNext();
    Sequence* s = *pick;
    if (seats + 1 + s->fork_seats > options_.max_seqs) break;  // its choices need seats too
    PrefixCache::MatchInfo match;
    if (prefix_ != nullptr && s->num_computed == 0) {
      // Resume after the longest cached prefix (at least one token is left to compute: its
      // logits pick the next token).
      s->num_computed = prefix_->Match(s->tokens, s->num_tokens() - 1, &s->kv, &match, /*record=*/false);
    }
    const int32_t n = chunk(*s);
    // Keep a page per group in reserve for the running sequences to grow into.
    const int32_t watermark = running_.empty() ? 0 : 1;
    // A cached prefix that could not be restored for lack of room is waited for while
    // running sequences will free pages, rather than recomputed.
    const bool wait_for_restore = match.lacked_room && !running_.empty();
    if (n <= 0 || wait_for_restore ||
        (!Fits(*s, n, watermark) && !(prefix_ != nullptr && prefix_->MakeRoom(Needs(*s, n, watermark))))) {
      cache_->Free(&s->kv);  // a waiting sequence holds no pages
      s->num_computed = 0;
      break;
    }
    if (prefix_ != nullptr) prefix_->Record(match);  // the lookup this admission stands on
    if (s->num_cached < 0) {
      s->num_cached = s->num_computed;
      s->num_cached_host = match.host_tokens;
      s->num_cached_disk = match.disk_tokens;
    }
    PARLEY_CHECK(cache_->Reserve(&s->kv, s->num_computed, s->num_computed + n));
    waiting_.erase(pick);
    s->state = SeqState::kRunning;
    running_.push_back(s);
    seats += 1 + s->fork_seats;
    out.scheduled.push_back({s, n});
    budget -= n;
  }
  for (const ScheduledSeq& x : out.scheduled) out.num_tokens += x.num_new;
  return out;
}

void Scheduler::Update(const SchedulerOutput& output) {
  for (const ScheduledSeq& x : output.scheduled) {
    x.seq->num_computed += x.num_new;
    PARLEY_DCHECK(x.seq->num_computed <= x.seq->num_tokens());
    cache_->ReleaseOutsideWindow(&x.seq->kv, x.seq->num_computed);
  }
}

void Scheduler::Finish(Sequence* seq, bool cache_pages) {
  if (auto it = std::find(running_.begin(), running_.end(), seq); it != running_.end()) {
    running_.erase(it);
  }
  if (auto it = std::find(waiting_.begin(), waiting_.end(), seq); it != waiting_.end()) {
    waiting_.erase(it);
  }
  if (cache_pages) CachePages(*seq);
  cache_->Free(&seq->kv);
  seq->state = SeqState::kFinished;
}

bool Scheduler::Fork(Sequence* parent, Sequence* child) {
  PARLEY_CHECK(parent->state == SeqState::kRunning) << "Fork from sequence " << parent->id << ", not running";
  PARLEY_CHECK(child->state != SeqState::kRunning) << "sequence " << child->id << " already runs";
  PARLEY_DCHECK(std::find(waiting_.begin(), waiting_.end(), child) == waiting_.end()) << "child is queued";
  const int32_t at = parent->num_computed;
  PARLEY_CHECK(child->num_tokens() >= at) << "sequence " << child->id << " is shorter than its parent";
  PARLEY_DCHECK(std::equal(parent->tokens.begin(), parent->tokens.begin() + at, child->tokens.begin()));
  if (parent->fork_seats <= 0) return false;
  SeqKv kv = cache_->NewSeq();
  if (!cache_->Fork(parent->kv, at, &kv)) {
    // At most one page per group (the partial page's copy): from what only the cache holds.
    if (prefix_ == nullptr || !prefix_->MakeRoom(std::vector<int32_t>(cache_->num_groups(), 1)) ||
        !cache_->Fork(parent->kv, at, &kv)) {
      return false;
    }
  }
  --parent->fork_seats;
  child->kv = std::move(kv);
  child->num_computed = at;
  child->state = SeqState::kRunning;
  running_.push_back(child);
  return true;
}

int32_t Scheduler::num_seats_taken() const {
  int32_t seats = 0;
  for (const Sequence* s : running_) seats += 1 + s->fork_seats;
  return seats;
}

Status Scheduler::CheckIntegrity() const {
  std::vector<const SeqKv*> tables;
  for (const Sequence* s : running_) {
    if (s->state != SeqState::kRunning) return Status::Error("a running sequence is not in state running");
    if (s->num_computed < 0 || s->num_computed > s->num_tokens()) {
      return Status::Error("sequence " + std::to_string(s->id) + " has num_computed out of range");
    }
    if (!cache_->CanResumeAt(s->kv, s->num_computed)) {
      return Status::Error("sequence " + std::to_string(s->id) + " lost pages it still needs");
    }
    tables.push_back(&s->kv);
  }
  for (const Sequence* s : waiting_) {
    if (s->state != SeqState::kWaiting) return Status::Error("a waiting sequence is not in state waiting");
    for (const auto& table : s->kv.pages) {
      for (int32_t page : table) {
        if (page >= 0) return Status::Error("waiting sequence " + std::to_string(s->id) + " holds pages");
      }
    }
  }
  if (num_seats_taken() > options_.max_seqs) return Status::Error("too many running (or seats held for forks)");
  SeqKv held;
  if (prefix_ != nullptr) {
    PARLEY_RETURN_IF_ERROR(prefix_->CheckIntegrity());
    held = prefix_->HeldPages();
    tables.push_back(&held);
  }
  return cache_->CheckIntegrity(tables, /*exact=*/true);
}

}  // namespace parley
