#include "engine/engine.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <map>

#include <unistd.h>
#include <xxhash.h>

#include "base/check.h"
#include "engine/canary.h"
#include "engine/model_runner.h"
#include "engine/output_processor.h"
#include "engine/scheduler.h"
#include "spec/ngram_pool.h"

namespace parley {
namespace {

using Active = RequestState;
using Clock = std::chrono::steady_clock;

// Before the step-cost model has seen enough steps: draft tokens kept with a fair chance.
constexpr double kUntrainedTokenPrice = 0.3;

// What one drafted token costs the next step, as the acceptance chance it must beat
// (DraftLength): with B decodes whose step the model predicts takes T seconds, and m more
// seconds per token added, a token kept with chance p raises the batch's throughput iff
// p > B*m/T. Near 0 for a lone stream on a memory-bound machine (the weights are read once
// for all rows); near 1 when the batch is already compute-bound (speculation stops).
double DraftTokenPrice(const StepCostModel& cost, const StepShape& decodes, int32_t num_decodes, int32_t position) {
  if (!cost.ready() || num_decodes == 0) return kUntrainedTokenPrice;
  const double t = cost.Predict(decodes);
  StepShape more = decodes;
  more.Add(position, 1);
  const double m = cost.Predict(more) - t;
  if (!(t > 0)) return kUntrainedTokenPrice;
  return std::clamp(num_decodes * m / t, 0.0, 1.0);
}

}  // namespace

StatusOr<SpecMode> ParseSpecMode(const std::string& name) {
  if (name == "off") return SpecMode::kOff;
  if (name == "ngram") return SpecMode::kNgram;
  if (name == "prediction") return SpecMode::kPrediction;
  return Status::InvalidArgument("--spec must be off, ngram or prediction, got '" + name + "'");
}

const char* SpecModeName(SpecMode mode) {
  switch (mode) {
    case SpecMode::kOff: return "off";
    case SpecMode::kNgram: return "ngram";
    case SpecMode::kPrediction: return "prediction";
  }
  return "off";
}

class Engine::Loop : private SequenceHost {
 public:
  Loop(ModelRunner* runner, const Tokenizer& tokenizer, const EngineOptions& options,
       std::unique_ptr<KvCache> cache, std::unique_ptr<DiskTier> disk, uint64_t remote_fingerprint)
      : runner_(runner),
        tokenizer_(tokenizer),
        options_(options),
        cache_(std::move(cache)),
        prefix_(options.prefix_cache ? std::make_unique<PrefixCache>(cache_.get(), options.prefix, std::move(disk))
                                     : nullptr),
        scheduler_(cache_.get(),
                   SchedulerOptions{options.max_batch_tokens, options.max_seqs, options.cache_aware_window,
                                    options.max_wait_steps, options.step_target_s},
                   prefix_.get()),
        outputs_(tokenizer, &stats_, this, OutputProcessorOptions{options.canary}) {
    if (options.spec == SpecMode::kNgram && options.spec_pool_slots > 0) {
      pool_ = std::make_unique<NgramPool>(options.spec_pool_slots, /*n=*/3, /*continuation=*/options.spec_max_draft);
    }
    if (prefix_ != nullptr && !options.remote.url.empty()) {
      // The URL was checked in Engine::Create; Redis itself may be down (a miss until it is up).
      remote_ = std::move(RedisTier::Open(options.remote, remote_fingerprint, [this] { cv_.notify_one(); })).value();
      prefix_->set_remote(remote_.get());
    }
    PublishStats();
    thread_ = std::thread([this] { Run(); });
  }
  ~Loop() { Shutdown(); }

  StatusOr<std::vector<std::shared_ptr<RequestStream>>> Submit(GenerationRequest request);
  EngineStats Stats() const { return stats_.Snapshot(); }
  void Shutdown();
  int64_t FlushRemote(std::chrono::milliseconds timeout);
  const KvCache& cache() const { return *cache_; }
  int32_t vocab_size() const { return runner_->vocab_size(); }

 private:
  void Run();
  bool Step();
  void Admit(std::unique_ptr<Active> a);
  // Sends a lookup to the shared tier for what the local tiers miss of a's prompt and parks
  // it until the answer (or remote_wait_ms); false (a untouched) when there is nothing to ask.
  bool Park(std::unique_ptr<Active>& a);
  // Imports the answers that came, admits their requests, and those whose wait is over.
  void Unpark(bool all);
  void DoFlush();
  void InitSeq(Active* a);
  // Finishes the requests whose clients cancelled them; returns how many.
  int32_t ReapCancelled();
  // With options_.check_integrity: aborts unless the scheduler, KV pools and prefix cache
  // agree; counts the check.
  void CheckIntegrityIfAsked();
  void Finish(Active* a, FinishReason reason, EngineEvent event, const std::string& error = "") {
    outputs_.Finish(a, reason, std::move(event), error);
  }
  // SequenceHost, for outputs_.
  void Release(Sequence* seq, bool cache_pages) override { scheduler_.Finish(seq, cache_pages); }
  bool Fork(Sequence* parent, Sequence* child) override { return scheduler_.Fork(parent, child); }
  void Enqueue(Sequence* seq) override { scheduler_.Add(seq); }
  void Adopt(std::unique_ptr<Active> a) override {
    const int64_t id = a->seq.id;
    active_[id] = std::move(a);
  }
  void PublishStats();
  void EraseFinished();
  // Speculative decoding: checks a verifying decode's drafts (OutputProcessor::Verify) and
  // settles its pages; then, after the step, drafts for every sequence that decodes next.
  void VerifyDraft(const ScheduledSeq& x, std::span<const float> rows);
  void ProposeDrafts();

  ModelRunner* runner_;
  const Tokenizer& tokenizer_;
  const EngineOptions options_;
  std::unique_ptr<KvCache> cache_;
  std::unique_ptr<PrefixCache> prefix_;  // null when disabled; before scheduler_, after cache_
  std::unique_ptr<NgramPool> pool_;      // speculative decoding's shared n-grams; null: none
  Scheduler scheduler_;
  EngineStatsRecorder stats_;  // before outputs_, which records into it
  OutputProcessor outputs_;

  // Shared with Submit/Shutdown.
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::unique_ptr<Active>> inbox_;
  bool stopping_ = false;
  int32_t num_queued_ = 0;  // inbox + scheduler's waiting queue (updated each step)
  int64_t next_id_ = 1;
  // A drain's flush (FlushRemote), done by the engine thread.
  std::condition_variable flush_cv_;
  bool flush_asked_ = false;
  bool flush_done_ = false;
  Clock::time_point flush_deadline_;
  int64_t flush_pages_ = 0;

  // Engine thread only.
  std::map<int64_t, std::unique_ptr<Active>> active_;
  struct Parked {
    std::unique_ptr<Active> a;
    Clock::time_point asked;
  };
  std::map<int64_t, Parked> parked_;  // waiting for a shared-tier lookup, by request id
  std::vector<ForwardSeq> batch_;
  std::vector<float> logits_;
  std::unique_ptr<RedisTier> remote_;  // after cv_ (its worker notifies it): destroyed first
  std::thread thread_;
};

StatusOr<std::vector<std::shared_ptr<RequestStream>>> Engine::Loop::Submit(GenerationRequest request) {
  PARLEY_RETURN_IF_ERROR(request.sampling.Validate());
  if (request.n < 1 || request.n > kMaxChoices) {
    return Status::InvalidArgument("n must be in [1, " + std::to_string(kMaxChoices) + "], got " +
                                   std::to_string(request.n));
  }
  const int64_t n = static_cast<int64_t>(request.prompt.size());
  if (n == 0) return Status::InvalidArgument("the prompt is empty");
  if (n + 1 > options_.max_context) {
    return Status::OutOfRange("the prompt has " + std::to_string(n) + " tokens, but the context holds " +
                                   std::to_string(options_.max_context) +
                                   " tokens (prompt + at least one generated token)");
  }
  for (int32_t id : request.prompt) {
    if (id < 0 || id >= runner_->vocab_size()) {
      return Status::InvalidArgument("token id " + std::to_string(id) + " is outside the vocabulary (size " +
                                     std::to_string(runner_->vocab_size()) + ")");
    }
  }
  for (const auto& [id, bias] : request.sampling.logit_bias) {
    if (id >= runner_->vocab_size()) {
      return Status::InvalidArgument("logit_bias names token id " + std::to_string(id) +
                                     ", outside the vocabulary (size " +
                                     std::to_string(runner_->vocab_size()) + ")");
    }
  }
  if (request.max_tokens < 0) return Status::InvalidArgument("max_tokens must be >= 0");
  if (request.logprobs > 20) return Status::InvalidArgument("logprobs must be at most 20");
  if (request.score_prompt_from != 0) {
    if (request.score_prompt_from < 1 || request.score_prompt_from >= n) {
      return Status::InvalidArgument("score_prompt_from must be in [1, " + std::to_string(n - 1) + "], got " +
                                     std::to_string(request.score_prompt_from));
    }
    if (request.prompt_logprobs) {
      return Status::InvalidArgument("score_prompt_from and prompt_logprobs cannot be combined");
    }
    if (request.n != 1) return Status::InvalidArgument("score_prompt_from needs n == 1");
    if (prefix_ != nullptr) return Status::InvalidArgument("score_prompt_from needs the prefix cache off");
  }
  std::unique_lock<std::mutex> lock(mu_);
  if (stopping_) return Status::Unavailable("the server is shutting down");
  if (num_queued_ + static_cast<int32_t>(inbox_.size()) >= options_.max_queue) {
    return Status::Unavailable("too many requests waiting (" + std::to_string(options_.max_queue) +
                               "); try again later");
  }
  // Choice 0 computes the prompt; the others wait in its `forks` (one queue entry).
  std::vector<std::shared_ptr<RequestStream>> streams;
  std::unique_ptr<Active> first;
  for (int32_t j = 0; j < request.n; ++j) {
    streams.push_back(std::make_shared<RequestStream>(next_id_++));
    GenerationRequest r = j + 1 < request.n ? request : std::move(request);
    r.sampling.seed += static_cast<uint64_t>(j);
    auto a = std::make_unique<Active>(tokenizer_, std::move(r), streams.back());
    a->max_new = std::min<int64_t>(a->req.max_tokens, options_.max_context - n);
    a->choice = j;
    if (j == 0) {
      first = std::move(a);
    } else {
      first->forks.push_back(std::move(a));
    }
  }
  inbox_.push_back(std::move(first));
  lock.unlock();
  cv_.notify_one();
  return streams;
}

// A choice's sequence: its prompt, nothing computed.
void Engine::Loop::InitSeq(Active* a) {
  a->seq.id = a->stream->id();
  a->seq.tokens = a->req.prompt;
  a->seq.num_prompt = static_cast<int32_t>(a->req.prompt.size());
  // Prompt logprobs need a [rows, vocab] logits block per step: keep chunks small.
  if (a->req.prompt_logprobs) a->seq.max_chunk = 32;
  if (a->req.sampling.has_penalties()) a->sampler.AcceptPrompt(a->req.prompt);
  if (options_.spec != SpecMode::kOff) {
    DrafterOptions d;
    d.history = options_.spec == SpecMode::kNgram;
    a->drafter = std::make_unique<SequenceDrafter>(a->req.prediction, d);
  }
}

void Engine::Loop::Admit(std::unique_ptr<Active> a) {
  InitSeq(a.get());
  for (auto& f : a->forks) InitSeq(f.get());
  // Seats for the choices that will fork; any beyond max_seqs are computed on their own.
  a->seq.fork_seats = std::min<int32_t>(static_cast<int32_t>(a->forks.size()), options_.max_seqs - 1);
  // The canary re-scores choice 0's tokens (one choice tells as much as n).
  if (options_.canary != nullptr && options_.canary->Select()) a->canary = std::make_unique<CanaryRecord>();
  Active* raw = a.get();
  active_[raw->seq.id] = std::move(a);
  scheduler_.Add(&raw->seq);
}

void Engine::Loop::Run() {
  for (;;) {
    std::deque<std::unique_ptr<Active>> arrived;
    bool flush = false;
    {
      std::unique_lock<std::mutex> lock(mu_);
      const bool canary_work = options_.canary != nullptr && options_.canary->has_work();
      if (active_.empty() && inbox_.empty() && !stopping_ && !canary_work && !flush_asked_) {
        // A parked request's answer wakes the loop (the worker notifies cv_); the short
        // timeout bounds a wake-up lost between this check and the wait.
        cv_.wait_for(lock, std::chrono::milliseconds(parked_.empty() ? 50 : 1));
      }
      if (stopping_) return;
      arrived.swap(inbox_);
      flush = flush_asked_;
    }
    for (auto& a : arrived) {
      if (!Park(a)) Admit(std::move(a));
    }
    if (remote_ != nullptr) Unpark(/*all=*/false);
    if (flush) DoFlush();
    if (ReapCancelled() > 0) CheckIntegrityIfAsked();
    PARLEY_DCHECK(scheduler_.CheckIntegrity().ok());
    if (active_.empty() && options_.canary != nullptr && options_.canary->has_work()) {
      // Idle: one bounded slice of canary work, then look at the inbox again.
      options_.canary->RunSlice();
    } else if (!active_.empty() && !Step()) {
      // Nothing could run (every sequence waits for pages that are not coming back):
      // cannot happen while the arena holds one full sequence; do not spin.
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    PublishStats();
  }
}

bool Engine::Loop::Park(std::unique_ptr<Active>& a) {
  if (remote_ == nullptr || a->req.score_prompt_from != 0) return false;
  const std::vector<int32_t>& prompt = a->req.prompt;
  // Admission resumes at most prompt - 1 tokens (the last one's logits pick the next token).
  std::vector<RemotePageId> ids = prefix_->RemotePlan(prompt, static_cast<int32_t>(prompt.size()) - 1, options_.remote_min_tokens);
  if (ids.empty()) return false;
  const int64_t id = a->stream->id();
  remote_->Lookup(id, std::move(ids));
  parked_[id] = Parked{std::move(a), Clock::now()};
  return true;
}

void Engine::Loop::Unpark(bool all) {
  for (RemoteLookupResult& r : remote_->TakeResults()) {
    auto it = parked_.find(r.ticket);
    if (it == parked_.end()) continue;  // admitted without it, its wait over
    prefix_->ImportRemote(it->second.a->req.prompt, r);
    stats_.Record([&](EngineStats& s) {
      ++s.remote_waits;
      s.remote_wait.Observe(r.seconds);
    });
    std::unique_ptr<Active> a = std::move(it->second.a);
    parked_.erase(it);
    Admit(std::move(a));
  }
  const auto now = Clock::now();
  const auto wait = std::chrono::milliseconds(options_.remote_wait_ms);
  for (auto it = parked_.begin(); it != parked_.end();) {
    if (!all && now - it->second.asked < wait) {
      ++it;
      continue;
    }
    const double waited = std::chrono::duration<double>(now - it->second.asked).count();
    stats_.Record([&](EngineStats& s) {
      ++s.remote_waits;
      ++s.remote_wait_timeouts;
      s.remote_wait.Observe(waited);
    });
    std::unique_ptr<Active> a = std::move(it->second.a);
    it = parked_.erase(it);
    Admit(std::move(a));
  }
}

// On the engine thread, at a drain: blocks it (no request runs then) until Redis has the
// pages or the deadline passes.
void Engine::Loop::DoFlush() {
  Clock::time_point deadline;
  {
    std::lock_guard<std::mutex> lock(mu_);
    deadline = flush_deadline_;
  }
  int64_t pages = 0;
  if (remote_ != nullptr) {
    pages = prefix_->PublishAll(deadline);
    remote_->Flush(deadline);
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    flush_asked_ = false;
    flush_done_ = true;
    flush_pages_ = pages;
  }
  flush_cv_.notify_all();
}

int64_t Engine::Loop::FlushRemote(std::chrono::milliseconds timeout) {
  if (remote_ == nullptr) return 0;
  std::unique_lock<std::mutex> lock(mu_);
  if (stopping_) return 0;
  flush_deadline_ = Clock::now() + timeout;
  flush_asked_ = true;
  flush_done_ = false;
  cv_.notify_all();
  // The engine thread may be in a long step: wait a little past the deadline for it.
  flush_cv_.wait_until(lock, flush_deadline_ + std::chrono::seconds(1), [this] { return flush_done_; });
  return flush_done_ ? flush_pages_ : 0;
}

int32_t Engine::Loop::ReapCancelled() {
  std::vector<Active*> gone;
  for (auto& [id, a] : active_) {
    if (a->stream->cancelled()) gone.push_back(a.get());
  }
  for (Active* a : gone) Finish(a, FinishReason::kCancelled, EngineEvent{});
  EraseFinished();
  return static_cast<int32_t>(gone.size());
}

void Engine::Loop::CheckIntegrityIfAsked() {
  if (!options_.check_integrity) return;
  const Status st = scheduler_.CheckIntegrity();
  PARLEY_CHECK(st.ok()) << "integrity check failed: " << st.message();
  stats_.Record([](EngineStats& s) { ++s.integrity_checks; });
}

bool Engine::Loop::Step() {
  const auto began = std::chrono::steady_clock::now();
  SchedulerOutput out = scheduler_.Schedule();
  if (out.empty()) return false;
  batch_.clear();
  for (ScheduledSeq& x : out.scheduled) {
    const Active* a = active_.at(x.seq->id).get();
    // Rows from the first prompt position whose next token still needs its logprob
    // (the row at position p predicts token p + 1).
    if (a->wants_prompt_lps()) x.WantLogitsFrom(a->prompt_lp_next - 1);
    batch_.push_back(scheduler_.ToForward(x));
  }
  Status st = runner_->Forward(batch_, cache_.get(), &logits_);
  stats_.Record([&](EngineStats& s) {
    ++s.forward_passes;
    s.batch_tokens.Observe(out.num_tokens);
  });
  if (!st.ok()) {
    for (const ScheduledSeq& x : out.scheduled) {
      Finish(active_.at(x.seq->id).get(), FinishReason::kError, EngineEvent{}, st.message());
    }
    return true;
  }
  scheduler_.Update(out);  // the chunks are computed; then each request's rows (OutputProcessor)
  const int32_t vocab = runner_->vocab_size();
  size_t row = 0;  // first logits row of x
  for (const ScheduledSeq& x : out.scheduled) {
    const size_t rows = static_cast<size_t>(x.num_logit_rows());
    const std::span<const float> logits(logits_.data() + row * vocab, rows * vocab);
    if (x.num_draft > 0) {
      VerifyDraft(x, logits);
    } else {
      outputs_.Process(active_.at(x.seq->id).get(), x.start + x.logits_from, logits, vocab);
    }
    row += rows;
  }
  ProposeDrafts();
  // The whole step, as the streams see it: what the step-cost model learns from.
  scheduler_.ObserveStep(out, std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count());
  EraseFinished();
  CheckIntegrityIfAsked();
  return true;
}

void Engine::Loop::VerifyDraft(const ScheduledSeq& x, std::span<const float> rows) {
  Active* a = active_.at(x.seq->id).get();
  const int32_t before = a->generated;
  const DraftSource source = a->draft_source;
  const int32_t kept = outputs_.Verify(a, std::span<const int32_t>(x.input).subspan(1), rows, runner_->vocab_size());
  if (a->seq.state != SeqState::kFinished) scheduler_.SettleDraft(&a->seq);
  if (a->drafter) a->drafter->Feedback(source, x.num_draft, kept);
  stats_.Record([&](EngineStats& s) {
    s.spec.drafted[static_cast<int>(source)] += x.num_draft;
    s.spec.accepted[static_cast<int>(source)] += kept;
    ++s.spec.verifications;
    s.spec.verified_tokens += a->generated - before;
  });
}

void Engine::Loop::ProposeDrafts() {
  if (options_.spec == SpecMode::kOff) return;
  std::vector<Active*> decoding;
  StepShape decodes;
  int64_t positions = 0;
  for (auto& [id, a] : active_) {
    const Sequence& s = a->seq;
    // Only a sequence past its first token drafts: a prompt resumed from the cache up to its
    // last token is a one-token step too, but its row forks the other choices and ends the
    // prompt logprobs (OutputProcessor::Process), which a verify step does not do.
    if (s.state != SeqState::kRunning || s.num_pending() != 1 || !a->drafter || a->generated == 0) continue;
    decoding.push_back(a.get());
    decodes.Add(s.num_computed, 1);
    positions += s.num_computed;
  }
  if (decoding.empty()) return;
  const int32_t n = static_cast<int32_t>(decoding.size());
  const double price = options_.spec_fixed_price >= 0 ? options_.spec_fixed_price
                                                      : DraftTokenPrice(scheduler_.small_step_cost_model(), decodes, n,
                                                                        static_cast<int32_t>(positions / n));
  for (Active* a : decoding) {
    Sequence& s = a->seq;
    // Every drafted token and the one the model adds must fit max_tokens (and so the context).
    const int32_t room = std::min(options_.spec_max_draft, a->max_new - a->generated - 1);
    a->draft_source = room > 0 ? a->drafter->Propose(s.tokens, pool_.get(), price, room, &s.draft) : DraftSource::kNone;
    if (room <= 0) s.draft.clear();
  }
  stats_.Record([&](EngineStats& st) { st.spec.token_price = price; });
}

void Engine::Loop::EraseFinished() {
  for (auto it = active_.begin(); it != active_.end();) {
    // What a finished conversation said may be said again in another one.
    if (pool_ && it->second->seq.state == SeqState::kFinished) pool_->Add(it->second->seq.tokens);
    it = it->second->seq.state == SeqState::kFinished ? active_.erase(it) : std::next(it);
  }
}

// The state after a step; the counters of events were recorded as they happened.
void Engine::Loop::PublishStats() {
  std::vector<EngineStats::Group> groups;
  const KvLayout& layout = cache_->layout();
  const std::vector<int64_t> cached_pages =
      prefix_ != nullptr ? prefix_->resident_pages() : std::vector<int64_t>(cache_->num_groups(), 0);
  for (int32_t g = 0; g < cache_->num_groups(); ++g) {
    EngineStats::Group grp;
    grp.pages_cached = static_cast<int32_t>(cached_pages[g]);
    grp.window = layout.groups()[g].window;
    grp.layers = static_cast<int32_t>(layout.groups()[g].owner_layers.size());
    grp.pages_used = cache_->pool(g).num_used();
    grp.pages_total = cache_->pool(g).num_pages();
    groups.push_back(grp);
  }
  int32_t waiting = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    num_queued_ = scheduler_.num_waiting() + static_cast<int32_t>(parked_.size());
    waiting = num_queued_ + static_cast<int32_t>(inbox_.size());
  }
  stats_.Record([&](EngineStats& s) {
    s.waiting = waiting;
    s.running = scheduler_.num_running();
    s.kv_groups = std::move(groups);
    s.preemptions = scheduler_.num_preemptions();
    s.checks_integrity = options_.check_integrity;
    ++s.steps;
    s.spec.enabled = options_.spec != SpecMode::kOff;
    const StepCostModel& cost = scheduler_.cost_model();
    s.step_cost_ready = cost.ready();
    s.step_cost[0] = cost.base_seconds();
    s.step_cost[1] = cost.token_seconds();
    s.step_cost[2] = cost.pair_seconds();
    const StepCostModel& small = scheduler_.small_step_cost_model();
    s.small_step_cost_ready = small.ready();
    s.small_step_cost[0] = small.base_seconds();
    s.small_step_cost[1] = small.token_seconds();
    s.small_step_cost[2] = small.pair_seconds();
    s.has_prefix_cache = prefix_ != nullptr;
    if (prefix_ == nullptr) return;
    s.prefix = prefix_->stats();
    s.prefix_nodes = prefix_->num_nodes();
    s.host_bytes = prefix_->host() != nullptr ? prefix_->host()->bytes_used() : 0;
    const DiskTier* disk = prefix_->disk();
    s.has_disk_tier = disk != nullptr;
    s.disk_bytes = disk != nullptr ? disk->bytes_used() : 0;
    s.disk_write_errors = disk != nullptr ? disk->write_errors() : 0;
    if (disk != nullptr) s.disk_faults = disk->faults();
    s.has_remote_tier = remote_ != nullptr;
    if (remote_ != nullptr) s.remote = remote_->stats();
  });
}

void Engine::Loop::Shutdown() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  // The engine thread is gone: finish everything from here.
  std::deque<std::unique_ptr<Active>> rest;
  {
    std::lock_guard<std::mutex> lock(mu_);
    rest.swap(inbox_);
  }
  for (auto& a : rest) Admit(std::move(a));
  if (remote_ != nullptr) Unpark(/*all=*/true);
  for (auto& [id, a] : active_) Finish(a.get(), FinishReason::kError, EngineEvent{}, "the server is shutting down");
  active_.clear();
  CheckIntegrityIfAsked();  // nothing runs: the pools hold exactly the prefix cache's pages
  PublishStats();
}

// The default arena: room for max_seqs sequences of the full context in every KV group
// (window groups: the window plus one chunk), capped at a quarter of physical memory. The
// arena is reserved address space: only pages that sequences write become resident.
int64_t AutoArenaBytes(const KvLayout& layout, const KvCacheOptions& kv, int32_t max_seqs) {
  const int64_t ram = static_cast<int64_t>(sysconf(_SC_PHYS_PAGES)) * sysconf(_SC_PAGE_SIZE);
  const int64_t want = KvCache::ArenaBytesFor(layout, kv, max_seqs * 1.125);
  const int64_t cap = ram > 0 ? ram / 4 : want;
  return std::max(KvCache::ArenaBytesFor(layout, kv, 1.25), std::min(want, cap));
}

StatusOr<std::unique_ptr<Engine>> Engine::Create(ModelRunner* runner, const Tokenizer& tokenizer,
                                                 const EngineOptions& options) {
  if (options.max_batch_tokens < 1 || options.max_seqs < 1 || options.max_queue < 0 || options.max_context < 2) {
    return Status::InvalidArgument("max-batch-tokens and max-seqs must be >= 1, the context >= 2");
  }
  std::vector<int32_t> owners = runner->KvOwners();
  if (!options.kv_sharing.empty()) {
    PARLEY_ASSIGN_OR_RETURN(owners, ParseKvSharing(options.kv_sharing, static_cast<int32_t>(owners.size())));
  }
  PARLEY_ASSIGN_OR_RETURN(KvLayout layout, KvLayout::Make(runner->LayerWindows(), owners, runner->kv_dim(), runner->head_dim()));
  KvCacheOptions kv = options.kv;
  kv.max_context = options.max_context;
  kv.max_chunk = std::min(options.max_batch_tokens, options.max_context);
  // A next turn resumes a few tokens before where its conversation stopped (the reply's
  // last token was never computed; the template's turn end follows): keep four pages more
  // of each window so the window before that point is still there.
  if (options.prefix_cache) kv.window_keep = 4 * kv.page_size;
  if (kv.arena_bytes <= 0) kv.arena_bytes = AutoArenaBytes(layout, kv, options.max_seqs);
  PARLEY_ASSIGN_OR_RETURN(std::unique_ptr<KvCache> cache, KvCache::Create(layout, kv));
  if (options.cache_aware_window < 1 || options.max_wait_steps < 0) {
    return Status::InvalidArgument("cache-aware-window must be >= 1 and max-wait-steps >= 0");
  }
  if (options.spec_max_draft < 1 || options.spec_max_draft > 64 || options.spec_pool_slots < 0) {
    return Status::InvalidArgument("spec-max-draft must be in [1, 64] and the pool size >= 0");
  }
  if (!(options.step_target_s >= 0 && options.step_target_s <= 60)) {
    return Status::InvalidArgument("the step-time target must be in [0, 60] seconds");
  }
  std::unique_ptr<DiskTier> disk;
  if (options.prefix_cache && !options.prefix.disk_dir.empty()) {
    PARLEY_ASSIGN_OR_RETURN(disk, DiskTier::Open(options.prefix.disk_dir, options.prefix.disk_bytes));
  }
  uint64_t remote_fingerprint = 0;
  if (!options.remote.url.empty()) {
    if (!options.prefix_cache) return Status::InvalidArgument("the shared KV tier (--redis-url) needs the prefix cache");
    std::string host;
    int port = 0, db = 0;
    PARLEY_RETURN_IF_ERROR(ParseRedisUrl(options.remote.url, &host, &port, &db));
    if (options.remote.timeout_ms < 1 || options.remote.ttl_s < 0 || options.remote_wait_ms < 0) {
      return Status::InvalidArgument("the Redis timeout must be >= 1 ms, its TTL and wait >= 0");
    }
    // Pages are shared only between replicas whose K/V would be the same bytes: the same
    // model and numerics (the caller's fingerprint) and the same layout, page size and dtype.
    const std::string layout_text = layout.Describe() + "|page " + std::to_string(kv.page_size) + "|" +
                                    KvDtypeName(kv.dtype) + "|kv_dim " + std::to_string(runner->kv_dim()) +
                                    "|head_dim " + std::to_string(runner->head_dim());
    remote_fingerprint = XXH3_64bits_withSeed(layout_text.data(), layout_text.size(), options.remote_fingerprint);
  }
  EngineOptions resolved = options;
  resolved.kv = kv;
  std::unique_ptr<Engine> engine(new Engine(resolved));
  engine->loop_ = std::make_unique<Loop>(runner, tokenizer, options, std::move(cache), std::move(disk),
                                         remote_fingerprint);
  return engine;
}

Engine::Engine(const EngineOptions& options) : options_(options) {}

Engine::~Engine() { Shutdown(); }

StatusOr<std::shared_ptr<RequestStream>> Engine::Submit(GenerationRequest request) {
  if (request.n != 1) return Status::InvalidArgument("n must be 1 here (SubmitChoices takes n choices)");
  PARLEY_ASSIGN_OR_RETURN(std::vector<std::shared_ptr<RequestStream>> streams, loop_->Submit(std::move(request)));
  return streams[0];
}

StatusOr<std::vector<std::shared_ptr<RequestStream>>> Engine::SubmitChoices(GenerationRequest request) {
  return loop_->Submit(std::move(request));
}

EngineStats Engine::Stats() const { return loop_->Stats(); }

int64_t Engine::FlushRemote(std::chrono::milliseconds timeout) { return loop_->FlushRemote(timeout); }

int32_t Engine::vocab_size() const { return loop_->vocab_size(); }

void Engine::Shutdown() {
  if (loop_) loop_->Shutdown();
}

int64_t Engine::KvBytesForContext(int32_t tokens) const { return loop_->cache().BytesForContext(tokens); }

int64_t Engine::FullKvBytesForContext(int32_t tokens) const {
  return loop_->cache().FullCacheBytesForContext(tokens, loop_->cache().layout().num_layers());
}

}  // namespace parley
