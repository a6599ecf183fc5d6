// EngineStats: what the engine counts and measures, as plain numbers (no metric names, no
// exposition format: server/metrics_exporter.h names and renders them). The engine thread
// records into an EngineStatsRecorder; any thread reads a consistent copy with Snapshot().
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <vector>

#include "engine/request.h"
#include "spec/drafter.h"
#include "prefix_cache/disk_tier.h"
#include "prefix_cache/prefix_cache.h"
#include "prefix_cache/redis_tier.h"

namespace parley {

// Observations counted into buckets of fixed upper bounds: counts[i] holds the values in
// (bounds[i-1], bounds[i]], counts.back() those above every bound.
struct Distribution {
  explicit Distribution(std::vector<double> upper_bounds = {});
  void Observe(double value);

  std::vector<double> bounds;    // ascending
  std::vector<uint64_t> counts;  // bounds.size() + 1, not cumulative
  double sum = 0;                // of the observations, in the order observed
  uint64_t count = 0;
};

// The resolution of the engine's distributions.
inline const std::vector<double> kLatencyBoundsSeconds = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                                          1,     2.5,  5,     10,   30,  60};
inline const std::vector<double> kTokenGapBoundsSeconds = {0.001, 0.0025, 0.005, 0.01, 0.02, 0.04,
                                                           0.08,  0.16,   0.32,  0.64, 1.28};
inline const std::vector<double> kRemoteWaitBoundsSeconds = {0.0005, 0.001, 0.0025, 0.005, 0.01,
                                                             0.025,  0.05,  0.1,    0.25,  0.5};
inline const std::vector<double> kBatchTokenBounds = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048};

struct EngineStats {
  // The state after the engine's latest step (published then).
  int32_t waiting = 0;  // requests queued, not yet running
  int32_t running = 0;  // sequences running
  struct Group {
    int32_t window = 0;  // 0: global
    int32_t layers = 0;  // owner layers in the group
    int32_t pages_used = 0;
    int32_t pages_total = 0;
    int32_t pages_cached = 0;  // of pages_used, held only or also by the prefix cache
  };
  std::vector<Group> kv_groups;
  int64_t steps = 0;        // snapshots published (engine loop turns)
  int64_t preemptions = 0;  // sequences preempted (pages freed, recomputed later)
  // EngineOptions::check_integrity: whether the engine checks itself, and how many checks
  // passed (a failed one aborts the process).
  bool checks_integrity = false;
  int64_t integrity_checks = 0;

  // Counted as they happen, before the events that report them are pushed.
  int64_t forward_passes = 0;
  Distribution batch_tokens{kBatchTokenBounds};  // tokens per forward pass
  std::map<FinishReason, int64_t> finished;      // finished choices by reason (entries > 0)
  Distribution request_latency{kLatencyBoundsSeconds};        // submit -> finish, every choice
  Distribution time_to_first_token{kLatencyBoundsSeconds};    // submit -> first token, choice 0
  Distribution inter_token_latency{kTokenGapBoundsSeconds};   // between tokens of a choice
  int64_t generation_tokens = 0;
  // Prompt tokens of finished requests (once per request, at its choice 0's finish).
  int64_t prompts_counted = 0;  // requests counted below
  int64_t prompt_tokens = 0;
  struct PromptSources {
    int64_t computed = 0;  // not cached
    int64_t pool = 0;      // cached, resident in the pool
    int64_t host = 0;      // cached, restored from the host tier
    int64_t disk = 0;      // cached, restored from the disk tier
  };
  PromptSources prompt_sources;

  // Speculative decoding, counted as verifications happen; by DraftSource.
  struct Spec {
    bool enabled = false;
    int64_t drafted[4] = {};   // tokens drafted and verified
    int64_t accepted[4] = {};  // of them, kept
    int64_t verifications = 0;   // decodes that verified a draft
    int64_t verified_tokens = 0; // tokens those decodes produced (kept drafts + the model's own)
    double token_price = 0;      // the latest step's drafting threshold (drafter.h DraftLength)
  };
  Spec spec;

  // The step-cost model (stall-free steps, speculation's token price): seconds per step
  // ~ base + per_token * tokens + per_pair * attention pairs; trained once it has seen
  // StepCostModel::kMinSteps steps.
  bool step_cost_ready = false;
  double step_cost[3] = {0, 0, 0};
  // The same fitted over small steps only (decodes, drafts, paced chunks), where a step is
  // mostly reading the weights: what a drafted token costs (speculative decoding's price).
  bool small_step_cost_ready = false;
  double small_step_cost[3] = {0, 0, 0};

  // The prefix cache after the latest step; the rest is zero when it has none.
  bool has_prefix_cache = false;
  bool has_disk_tier = false;
  PrefixCacheStats prefix;
  int64_t prefix_nodes = 0;       // pages of tokens in the prefix tree
  int64_t host_bytes = 0;         // in the host tier
  int64_t disk_bytes = 0;         // in the disk tier
  int64_t disk_write_errors = 0;  // disk pages that could not be written
  DiskTierFaults disk_faults;     // every disk fault by kind (each a miss)

  // The shared (Redis) tier, when there is one.
  bool has_remote_tier = false;
  RedisTierStats remote;
  int64_t remote_waits = 0;            // requests that waited for a shared-tier lookup
  int64_t remote_wait_timeouts = 0;    // ... admitted before its answer came (remote_wait_ms)
  Distribution remote_wait{kRemoteWaitBoundsSeconds};  // each wait, answered or not
};

// The engine's statistics behind a mutex: the engine thread records, readers snapshot.
class EngineStatsRecorder {
 public:
  // Calls f(EngineStats&) under the lock; keep it short.
  template <typename F>
  void Record(F&& f) {
    std::lock_guard<std::mutex> lock(mu_);
    f(stats_);
  }
  EngineStats Snapshot() const {
    std::lock_guard<std::mutex> lock(mu_);
    return stats_;
  }

 private:
  mutable std::mutex mu_;
  EngineStats stats_;
};

}  // namespace parley
