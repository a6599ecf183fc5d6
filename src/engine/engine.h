// Engine: the serving loop of DESIGN.md §2. Submit() validates a request and puts it in
// the inbox; one engine thread runs
//   loop { Scheduler::Schedule() -> ModelRunner::Forward(batch) -> sample -> update }
// and pushes each request's progress into its RequestStream. The engine thread alone owns
// the scheduler, the KV cache and the model state; only the inbox and the streams are
// shared. Submit/Stats/Shutdown are thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "base/status.h"
#include "engine/engine_stats.h"
#include "engine/request.h"
#include "kv/kv_cache.h"
#include "prefix_cache/prefix_cache.h"
#include "tokenizer/tokenizer.h"

namespace parley {

class ModelRunner;
class QualityCanary;

// What speculative decoding drafts from: nothing; the prediction, the sequence's own tokens
// and the shared pool (kNgram); or only requests' predictions (kPrediction).
enum class SpecMode { kOff, kNgram, kPrediction };
// "off", "ngram", "prediction"; InvalidArgument for anything else.
StatusOr<SpecMode> ParseSpecMode(const std::string& name);
const char* SpecModeName(SpecMode mode);

struct EngineOptions {
  int32_t max_batch_tokens = 512;  // tokens computed per step (decodes first, then prefill)
  int32_t max_seqs = 16;           // sequences running at once
  int32_t max_queue = 256;         // waiting requests; more -> Unavailable (HTTP 503)
  int32_t max_context = 4096;      // prompt + generated tokens per sequence
  KvCacheOptions kv;               // arena size (0: automatic), page size, dtype
  std::string kv_sharing;          // "L:O,..." sharing map; "" = from the model / none
  bool prefix_cache = true;        // keep finished sequences' KV for later requests
  PrefixCacheOptions prefix;       // its host and disk tiers
  // The shared KV tier on Redis (redis_tier.h; remote.url "" = none; needs the prefix cache).
  // Pages are published after each turn; a request whose prompt the local tiers miss waits
  // up to remote_wait_ms in a parking area (not the scheduler's queue) for its lookup.
  RedisTierOptions remote;
  uint64_t remote_fingerprint = 0;  // names the model file and numerics; the KV layout is mixed in
  int32_t remote_wait_ms = 100;
  // A request asks Redis only when the local tiers miss at least this many of its prompt's
  // tokens: a sticky conversation's new turn (a few pages past its cached history) is
  // recomputed without a round trip.
  int32_t remote_min_tokens = 64;
  int32_t cache_aware_window = 16; // SchedulerOptions
  int32_t max_wait_steps = 32;
  // Stall-free steps (SchedulerOptions::step_target_s): while streams decode, a step takes
  // prefill tokens only while its predicted time stays within this; 0: off (token budget only).
  double step_target_s = 0;
  // Re-scores a share of finished requests with the exact path in idle steps (canary.h);
  // null: none. Not owned; must outlive the engine; used by the engine thread only.
  QualityCanary* canary = nullptr;
  // Checks that the scheduler, the KV pools and the prefix cache agree (KvManager::
  // CheckIntegrity, exact page counts) after every step, after cancelled requests are reaped
  // and once more at Shutdown; a failure is a bug and aborts the process. Tests, the soak
  // (`parley serve --check-integrity`); costs a walk of the prefix tree per step.
  bool check_integrity = false;
  // Speculative decoding (spec/drafter.h): each decoding sequence drafts tokens from its
  // request's prediction, its own history and a pool shared by all sequences, and verifies
  // them in its next decode step; lossless (the output is the one without it).
  SpecMode spec = SpecMode::kOff;
  int32_t spec_max_draft = 8;      // tokens drafted per sequence per step at most
  int32_t spec_pool_slots = 1 << 16;  // entries of the shared n-gram pool (0: no pool)
  // Tests: the acceptance chance a drafted token must beat (DraftLength), instead of the
  // price the step-cost model sets each step; < 0: the model's.
  double spec_fixed_price = -1;
};

class Engine {
 public:
  // Starts the engine thread. The runner and tokenizer must outlive the engine.
  // Errors: the KV arena cannot hold one sequence of max_context, bad sharing map.
  static StatusOr<std::unique_ptr<Engine>> Create(ModelRunner* runner, const Tokenizer& tokenizer,
                                                  const EngineOptions& options);
  ~Engine();  // Shutdown()

  // Checks the request (OutOfRange: prompt + 1 > max_context, and nothing else;
  // InvalidArgument: empty prompt, bad sampling parameters, token ids (prompt or
  // logit_bias) outside the vocabulary; Unavailable: queue full or shutting down) and
  // queues it. max_tokens is clipped to the context left.
  // REQUIRES request.n == 1 (InvalidArgument otherwise: use SubmitChoices).
  StatusOr<std::shared_ptr<RequestStream>> Submit(GenerationRequest request);
  // The same for request.n choices (InvalidArgument outside [1, kMaxChoices]): one stream
  // per choice, in choice order. The prompt is computed once, by choice 0; then the others
  // fork from it (Scheduler::Fork: its full KV pages shared, the partial last page copied)
  // and every choice samples its first token from the same logits with its own generator:
  // choice j of a request seeded s draws exactly as choice 0 of one seeded s + j.
  StatusOr<std::vector<std::shared_ptr<RequestStream>>> SubmitChoices(GenerationRequest request);

  // A consistent copy of the engine's statistics (engine_stats.h), for /metrics and /health.
  EngineStats Stats() const;
  // The options in effect (kv.arena_bytes resolved when it was 0).
  const EngineOptions& options() const { return options_; }
  int32_t vocab_size() const;
  // KV bytes per token of context as stored (for a context of `tokens`), and for a cache
  // keeping every layer's K/V at f32.
  int64_t KvBytesForContext(int32_t tokens) const;
  int64_t FullKvBytesForContext(int32_t tokens) const;

  // Drain: queues every cached page not yet in the shared tier and waits until Redis has
  // them or `timeout` passes (the engine thread does the work, so call it before
  // Shutdown, once no request runs). Returns the pages queued; 0 without a shared tier.
  int64_t FlushRemote(std::chrono::milliseconds timeout);

  // Stops the engine thread; requests in flight and queued get a final kError event
  // ("server shutting down"). Idempotent.
  void Shutdown();

 private:
  class Loop;
  explicit Engine(const EngineOptions& options);
  EngineOptions options_;
  std::unique_ptr<Loop> loop_;
};

}  // namespace parley
