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

ForwardSeq Scheduler::ToForward(const ScheduledSeq& x) const {
  const Sequence& s = *x.seq;
  ForwardSeq fs;
  fs.kv = &kv_.Table(s.kv);
  fs.tokens = x.num_draft > 0 ? std::span<const int32_t>(x.input)
                              : std::span<const int32_t>(s.tokens.data() + x.start, x.num_new);
  fs.start = x.start;
  fs.logits_from = x.logits_from;
  return fs;
}

Scheduler::Scheduler(KvCache* cache, const SchedulerOptions& options, PrefixCache* prefix)
    : kv_(cache, prefix), options_(options) {
  PARLEY_CHECK(options.max_batch_tokens > 0 && options.max_seqs > 0);
}

void Scheduler::Add(Sequence* seq) {
  seq->state = SeqState::kWaiting;
  seq->enqueued_step = step_;
  waiting_.push_back(seq);
}

void Scheduler::Preempt(Sequence* seq) {
  // Its pages stay cached (and spill rather than vanish when evicted).
  kv_.Free(&seq->kv, seq->tokens, seq->num_computed, seq->num_prompt, /*cache_pages=*/true);
  seq->num_computed = 0;
  seq->draft.clear();
  seq->state = SeqState::kWaiting;
  running_.erase(std::find(running_.begin(), running_.end(), seq));
  seq->enqueued_step = step_;
  waiting_.push_front(seq);
  ++seq->num_preemptions;
  ++num_preemptions_;
}

std::deque<Sequence*>::iterator Scheduler::PickNext() {
  auto head = waiting_.begin();
  if (!kv_.caching() || options_.cache_aware_window <= 1 || step_ - (*head)->enqueued_step >= options_.max_wait_steps) {
    return head;
  }
  auto best = head;
  int32_t best_len = -1;
  int32_t k = 0;
  for (auto it = waiting_.begin(); it != waiting_.end() && k < options_.cache_aware_window; ++it, ++k) {
    const Sequence& s = **it;
    const int32_t len = s.num_computed > 0 ? s.num_computed : kv_.ComputedPrefix(s.tokens, s.num_tokens() - 1);
    if (len > best_len) {
      best = it;
      best_len = len;
    }
  }
  return best;
}

int32_t Scheduler::ChunkFor(const Sequence& s, int32_t start, int32_t budget, bool pace, const StepShape& planned,
                            int32_t prefill_so_far) const {
  int32_t n = std::min(s.num_tokens() - start, budget);
  if (s.max_chunk > 0) n = std::min(n, s.max_chunk);
  if (!pace || n <= 0) return n;
  // Stay within twice the largest step measured (the model does not extrapolate far), and
  // within the target; but prompts always get `min_prefill_tokens` per step.
  const int32_t floor = std::max(0, options_.min_prefill_tokens - prefill_so_far);
  const int32_t cap = std::max(floor, 2 * cost_.max_tokens_seen() - planned.tokens);
  int32_t lo = 0, hi = std::min(n, cap);
  while (lo < hi) {
    const int32_t mid = lo + (hi - lo + 1) / 2;
    StepShape shape = planned;
    shape.Add(start, mid);
    if (cost_.Predict(shape) <= step_target_) {
      lo = mid;
    } else {
      hi = mid - 1;
    }
  }
  return std::min(n, std::max(lo, floor));
}

SchedulerOutput Scheduler::Schedule() {
  ++step_;
  SchedulerOutput out;
  int32_t budget = options_.max_batch_tokens;

  // Running sequences: decodes first (one pending token), then prefills; oldest first.
  std::vector<Sequence*> order;
  for (Sequence* s : running_) if (s->num_pending() == 1) order.push_back(s);
  const size_t num_decodes = order.size();
  for (Sequence* s : running_) if (s->num_pending() != 1) order.push_back(s);
  // Pace the prefills only when streams are decoding (their inter-token latency is at stake).
  const bool pace = options_.step_target_s > 0 && cost_.ready() && num_decodes > 0;
  StepShape planned;
  int32_t prefill = 0;  // prefill tokens in this step so far
  // Drafted tokens ride with their decodes, but never take a later decode's place.
  int32_t draft_budget = budget - static_cast<int32_t>(num_decodes);
  step_target_ = options_.step_target_s;
  for (size_t i = 0; i < order.size(); ++i) {
    Sequence* s = order[i];
    // When the decodes alone take most of the target (a loaded machine, a long context),
    // prompts still get as much time as the decodes: pacing never starves them.
    if (pace && i == num_decodes) step_target_ = std::max(step_target_, 2 * cost_.Predict(planned));
    if (budget == 0) break;
    if (s->state != SeqState::kRunning) continue;  // preempted earlier in this loop
    const bool decode = i < num_decodes;
    const int32_t drafts = decode ? std::clamp(static_cast<int32_t>(s->draft.size()), 0, std::max(0, draft_budget)) : 0;
    const int32_t n = decode ? 1 + drafts : ChunkFor(*s, s->num_computed, budget, pace, planned, prefill);
    if (n <= 0) continue;
    while (!kv_.Reserve(&s->kv, s->num_computed, s->num_computed + n)) {
      // Out of pages even after evicting what only the prefix cache holds: the newest
      // running sequence gives its pages back.
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
    if (drafts > 0) {
      ScheduledSeq x;
      x.seq = s;
      x.num_new = n;
      x.start = s->num_computed;
      x.logits_from = 0;
      x.num_draft = drafts;
      x.input.reserve(n);
      x.input.push_back(s->tokens.back());
      x.input.insert(x.input.end(), s->draft.begin(), s->draft.begin() + drafts);
      out.scheduled.push_back(std::move(x));
      draft_budget -= drafts;
    } else {
      out.scheduled.push_back({s, n});
    }
    s->draft.clear();
    planned.Add(s->num_computed, n);
    if (!decode) prefill += n;
    budget -= n;
  }

  // Admissions, in arrival order, while pages, budget and seats last. None in a step
  // that had to preempt: memory is tight. When pacing, none that would push a decode step
  // of everyone running past the target: new conversations wait instead.
  StepShape steady;  // a decode step of every running sequence
  for (const Sequence* s : running_) steady.Add(s->num_tokens() - 1, 1);
  // The gate holds only where the target is within reach: a step of one token (the floor:
  // every weight read once) takes at most half of it. On a machine slower than the target
  // assumes, admission falls back to seats and pages.
  StepShape floor;
  floor.Add(0, 1);
  const bool gate = options_.step_target_s > 0 && cost_.ready() && !running_.empty() &&
                    2 * cost_.Predict(floor) <= options_.step_target_s;
  int32_t seats = num_seats_taken();
  while (budget > 0 && out.preempted.empty() && !waiting_.empty() && seats < options_.max_seqs) {
    const auto pick = PickNext();
    Sequence* s = *pick;
    if (seats + 1 + s->fork_seats > options_.max_seqs) break;  // its choices need seats too
    if (gate) {
      StepShape with = steady;
      for (int32_t k = 0; k <= s->fork_seats; ++k) with.Add(s->num_tokens(), 1);
      if (cost_.Predict(with) > options_.step_target_s) break;
    }
    // Resume after the longest cached prefix and reserve the chunk, in one call that
    // commits or changes nothing. Keep a page per group in reserve for the running
    // sequences to grow into. A cached prefix that could not be restored for lack of room
    // is waited for while running sequences will free pages, rather than recomputed.
    KvManager::AdmitRequest req;
    req.tokens = s->tokens;
    req.computed = s->num_computed;
    req.chunk = [&](int32_t computed) {
      s->num_computed = computed;
      return ChunkFor(*s, computed, budget, pace, planned, prefill);
    };
    req.watermark = running_.empty() ? 0 : 1;
    req.wait_for_restore = !running_.empty();
    KvManager::Admission adm;
    if (!kv_.Admit(req, &s->kv, &adm)) {
      s->num_computed = 0;  // a waiting sequence holds no pages
      break;
    }
    s->num_computed = adm.computed;
    if (s->num_cached < 0) {
      s->num_cached = s->num_computed;
      s->num_cached_host = adm.host_tokens;
      s->num_cached_disk = adm.disk_tokens;
    }
    const int32_t n = adm.num_new;
    waiting_.erase(pick);
    s->state = SeqState::kRunning;
    running_.push_back(s);
    seats += 1 + s->fork_seats;
    out.scheduled.push_back({s, n});
    planned.Add(s->num_computed, n);
    prefill += n;
    for (int32_t k = 0; k <= s->fork_seats; ++k) steady.Add(s->num_tokens(), 1);
    budget -= n;
  }
  for (const ScheduledSeq& x : out.scheduled) out.num_tokens += x.num_new;
  return out;
}

void Scheduler::ObserveStep(const SchedulerOutput& output, double seconds) {
  StepShape shape;
  for (const ScheduledSeq& x : output.scheduled) shape.Add(x.start, x.num_new);
  cost_.Observe(shape, seconds);
  if (shape.tokens <= kSmallStepTokens) small_cost_.Observe(shape, seconds);
}

void Scheduler::Update(const SchedulerOutput& output) {
  for (const ScheduledSeq& x : output.scheduled) {
    x.seq->num_computed += x.num_new - x.num_draft;
    PARLEY_DCHECK(x.seq->num_computed <= x.seq->num_tokens());
    kv_.Release(&x.seq->kv, x.seq->num_computed);
  }
}

void Scheduler::SettleDraft(Sequence* seq) {
  PARLEY_DCHECK(seq->num_computed <= seq->num_tokens());
  // Positions past the last token (rejected drafts) hold no K/V anyone will read: their
  // pages go back; the rows a kept page holds past it are overwritten when computed.
  kv_.Truncate(&seq->kv, seq->num_tokens());
  kv_.Release(&seq->kv, seq->num_computed);
}

void Scheduler::Finish(Sequence* seq, bool cache_pages) {
  if (auto it = std::find(running_.begin(), running_.end(), seq); it != running_.end()) {
    running_.erase(it);
  }
  if (auto it = std::find(waiting_.begin(), waiting_.end(), seq); it != waiting_.end()) {
    waiting_.erase(it);
  }
  kv_.Free(&seq->kv, seq->tokens, seq->num_computed, seq->num_prompt, cache_pages);
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
  if (!kv_.Fork(parent->kv, at, &child->kv)) return false;
  --parent->fork_seats;
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
  std::vector<const KvHandle*> handles;
  for (const Sequence* s : running_) {
    if (s->state != SeqState::kRunning) return Status::Error("a running sequence is not in state running");
    if (s->num_computed < 0 || s->num_computed > s->num_tokens()) {
      return Status::Error("sequence " + std::to_string(s->id) + " has num_computed out of range");
    }
    if (!kv_.CanResumeAt(s->kv, s->num_computed)) {
      return Status::Error("sequence " + std::to_string(s->id) + " lost pages it still needs");
    }
    handles.push_back(&s->kv);
  }
  for (const Sequence* s : waiting_) {
    if (s->state != SeqState::kWaiting) return Status::Error("a waiting sequence is not in state waiting");
    if (s->kv.holds_pages()) return Status::Error("waiting sequence " + std::to_string(s->id) + " holds pages");
  }
  if (num_seats_taken() > options_.max_seqs) return Status::Error("too many running (or seats held for forks)");
  return kv_.CheckIntegrity(handles);
}

}  // namespace parley
