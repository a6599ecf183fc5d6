// Scheduler: decides, each step, which sequences compute how many tokens (DESIGN.md §2).
// A per-step token budget is spent on running decodes first, then running prefills in
// chunks, then new admissions (FCFS), which are admitted only when the KV pools have
// their pages (plus a small watermark so running sequences can grow). When a running
// sequence cannot get pages, the newest running sequence is preempted: its pages are
// freed and it waits at the head of the queue to be recomputed. The oldest running
// sequence is never preempted for a newer one, so the system always makes progress.
// With a PrefixCache, an admitted sequence first resumes after its longest cached prefix,
// pages the cache holds are evicted (spilled) before any running sequence is preempted, and
// finished and preempted sequences leave their pages in the cache.
// A sequence admitted with `fork_seats` takes that many seats more, for the sequences that
// Fork from it (sharing its prompt's pages) when its prompt has been computed.
// Owned by the engine thread; not thread-safe.
#pragma once

#include <cstdint>
#include <deque>
#include <vector>

#include "base/status.h"
#include "engine/sequence.h"
#include "engine/step_cost.h"
#include "kv/kv_cache.h"
#include "model/forward_batch.h"
#include "prefix_cache/kv_manager.h"
#include "prefix_cache/prefix_cache.h"

namespace parley {

struct SchedulerOptions {
  int32_t max_batch_tokens = 512;  // tokens computed per step, all sequences together
  int32_t max_seqs = 16;           // running sequences at once
  // Cache-aware admission (with a prefix cache): among the first `cache_aware_window`
  // waiting sequences, the one with the longest cached prefix goes first, unless the oldest
  // has waited `max_wait_steps` steps or more (then first come, first served). 1: FCFS.
  int32_t cache_aware_window = 16;
  int32_t max_wait_steps = 32;
  // Stall-free steps (Sarathi-Serve). With a target > 0 and the step-cost model trained
  // (StepCostModel::ready), a step that carries decodes takes prefill tokens only while its
  // predicted time stays within the target, but at least `min_prefill_tokens` (so prompts
  // always progress), and a new sequence is admitted only while a decode step of every
  // running sequence and it would fit the target. A step of prefills alone is bounded by
  // max_batch_tokens only. When the decodes alone would take over half the target, the
  // prefill share is as long as theirs instead, and admission is no longer held back (the
  // target is out of reach: pacing must not starve prompts). 0: the token budget alone.
  double step_target_s = 0;
  int32_t min_prefill_tokens = 16;
};

// One sequence's share of a step. It keeps where the chunk starts (`Scheduler::Update` moves
// `num_computed` afterwards) and which of its rows get logits: by default the last row when the
// chunk reaches the end of the sequence (that row picks the next token), none otherwise.
struct ScheduledSeq {
  ScheduledSeq() = default;
  ScheduledSeq(Sequence* s, int32_t n);
  // Also gives logits to the rows from absolute position `position` on (those inside the chunk).
  void WantLogitsFrom(int32_t position);
  int32_t num_logit_rows() const { return num_new - logits_from; }

  Sequence* seq = nullptr;
  int32_t num_new = 0;      // compute tokens [start, start + num_new)
  int32_t start = 0;        // seq->num_computed when scheduled
  int32_t logits_from = 0;  // rows [logits_from, num_new) get logits
  // A decode that verifies drafted tokens: its rows are the sequence's last token then
  // `num_draft` drafted ones (`input`), all with logits; only the first counts as computed
  // until verification (Scheduler::SettleDraft).
  int32_t num_draft = 0;
  std::vector<int32_t> input;
};

struct SchedulerOutput {
  std::vector<ScheduledSeq> scheduled;  // in batch order: decodes, prefills, admissions
  std::vector<Sequence*> preempted;     // lost their pages this step (now waiting)
  int32_t num_tokens = 0;
  bool empty() const { return scheduled.empty(); }
};

class Scheduler {
 public:
  // REQUIRES: `cache` (and `prefix`, if any) outlive the scheduler.
  Scheduler(KvCache* cache, const SchedulerOptions& options, PrefixCache* prefix = nullptr);

  // Queues a sequence (state kWaiting, no pages) at the tail.
  void Add(Sequence* seq);
  // Picks this step's work and reserves its pages.
  SchedulerOutput Schedule();
  // The forward-pass share of one scheduled sequence: its tokens [start, start + num_new),
  // its pages, and logits for rows [logits_from, num_new).
  ForwardSeq ToForward(const ScheduledSeq& x) const;
  // Teaches the step-cost model how long a step took (the whole step, as its streams see it).
  void ObserveStep(const SchedulerOutput& output, double seconds);
  const StepCostModel& cost_model() const { return cost_; }
  // The same model fitted over steps of at most kSmallStepTokens tokens only: decodes (with
  // drafts) and paced chunks, where a step is mostly reading the weights once.
  const StepCostModel& small_step_cost_model() const { return small_cost_; }
  static constexpr int32_t kSmallStepTokens = 192;
  // A sequence's block tables (read-only; for checks and tests).
  const SeqKv& BlockTable(const Sequence& seq) const { return kv_.Table(seq.kv); }
  // After the forward pass: advances num_computed of every scheduled sequence (by its
  // chunk; a verifying decode by one: its drafts are not verified yet) and lets window
  // groups release pages that left the window.
  void Update(const SchedulerOutput& output);
  // After a verifying decode's drafts were checked (the caller advanced num_computed past
  // the accepted ones and appended the kept tokens): gives back the pages reserved for
  // rejected drafts and lets window groups release pages that left the window.
  void SettleDraft(Sequence* seq);
  // Removes a sequence (finished or cancelled) wherever it is and frees its pages, after
  // offering them to the prefix cache when `cache_pages` (not after a failed forward pass).
  void Finish(Sequence* seq, bool cache_pages = true);
  // Starts `child` running at once as a continuation of running `parent`'s computed tokens,
  // sharing their K/V (KvCache::Fork), in one of the seats the parent holds for its forks.
  // The caller has set child->tokens (parent's first num_computed tokens, then its own).
  // False when the parent holds no seat or the pools lack a page to copy the partial page
  // into, even after evicting cached pages: the child is left as it was (the caller may
  // Add it to be computed like any sequence).
  bool Fork(Sequence* parent, Sequence* child);

  int32_t num_waiting() const { return static_cast<int32_t>(waiting_.size()); }
  int32_t num_running() const { return static_cast<int32_t>(running_.size()); }
  // Running sequences plus the seats they hold for forks (at most max_seqs).
  int32_t num_seats_taken() const;
  int64_t num_preemptions() const { return num_preemptions_; }
  // Pool accounting matches the running sequences' block tables exactly, waiting
  // sequences hold no pages, counters are in range.
  Status CheckIntegrity() const;

 private:
  void Preempt(Sequence* seq);
  // Pages seq needs for `num_new` more tokens fit, keeping `watermark` pages free in
  // every group.
  bool Fits(const Sequence& seq, int32_t num_new, int32_t watermark) const;
  // Pages per group that seq needs for `num_new` more tokens, plus `watermark`.
  std::vector<int32_t> Needs(const Sequence& seq, int32_t num_new, int32_t watermark) const;
  // The waiting sequence to admit next (cache-aware within the fairness bound).
  std::deque<Sequence*>::iterator PickNext();
  // Offers a sequence's computed pages to the prefix cache (no-op without one).

  // Tokens of `s` to compute this step from position `start`, within the token budget, the
  // sequence's max_chunk and (when pacing) the step-time target given `planned` so far.
  int32_t ChunkFor(const Sequence& s, int32_t start, int32_t budget, bool pace, const StepShape& planned,
                   int32_t prefill_so_far) const;

  KvManager kv_;  // the pool and the prefix cache (a disabled one when none is given)
  SchedulerOptions options_;
  std::deque<Sequence*> waiting_;
  std::vector<Sequence*> running_;  // admission order: oldest first
  int64_t num_preemptions_ = 0;
  int64_t step_ = 0;  // Schedule calls so far
  StepCostModel cost_;
  StepCostModel small_cost_;
  double step_target_ = 0;  // this step's target for prefill pacing (see Schedule)
};

}  // namespace parley
