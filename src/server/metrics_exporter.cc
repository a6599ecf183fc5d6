#include "server/metrics_exporter.h"

#include <string>

namespace parley {
namespace {

double D(int64_t v) { return static_cast<double>(v); }

void SetHistogram(const char* name, const Distribution& d, Metrics* metrics) {
  if (d.count > 0) metrics->SetHistogram(name, d.counts, d.sum, d.count);
}

void ExportPrefixCache(const EngineStats& stats, Metrics* m) {
  const PrefixCacheStats& p = stats.prefix;
  m->Set("parley_prefix_cache_lookups_total", D(p.lookups));
  m->Set("parley_prefix_cache_hits_total", D(p.hits));
  m->Set("parley_prefix_cache_misses_total", D(p.miss_new), "reason=\"new\"");
  m->Set("parley_prefix_cache_misses_total", D(p.miss_evicted), "reason=\"evicted\"");
  m->Set("parley_prefix_cache_misses_total", D(p.miss_window), "reason=\"window\"");
  m->Set("parley_prefix_cache_evicted_pages_total", D(p.evicted_pages));
  m->Set("parley_prefix_cache_spilled_pages_total", D(p.spilled_pages));
  m->Set("parley_prefix_cache_restored_pages_total", D(p.restored_pages));
  m->Set("parley_prefix_cache_host_dropped_pages_total", D(p.host_dropped_pages));
  m->Set("parley_prefix_cache_nodes", D(stats.prefix_nodes));
  for (size_t g = 0; g < stats.kv_groups.size(); ++g) {
    m->Set("parley_prefix_cache_resident_pages", stats.kv_groups[g].pages_cached,
           "group=\"" + std::to_string(g) + "\"");
  }
  m->Set("parley_prefix_cache_host_bytes", D(stats.host_bytes));
  if (!stats.has_disk_tier) return;
  m->Set("parley_prefix_cache_disk_written_pages_total", D(p.disk_written_pages));
  m->Set("parley_prefix_cache_disk_restored_pages_total", D(p.disk_restored_pages));
  m->Set("parley_prefix_cache_disk_dropped_pages_total", D(p.disk_dropped_pages));
  m->Set("parley_prefix_cache_disk_errors_total", D(stats.disk_write_errors + p.disk_read_errors));
  m->Set("parley_prefix_cache_disk_bytes", D(stats.disk_bytes));
  const DiskTierFaults& f = stats.disk_faults;
  const std::pair<const char*, int64_t> kinds[] = {
      {"write", f.write_failed}, {"no_space", f.no_space},         {"rename", f.rename_failed},
      {"read", f.read_failed},   {"read_missing", f.read_missing}, {"read_size", f.read_size},
      {"read_corrupt", f.read_corrupt}};
  for (const auto& [kind, n] : kinds) {
    m->Set("parley_prefix_cache_disk_faults_total", D(n), std::string("kind=\"") + kind + "\"");
  }
}

void ExportRemoteTier(const EngineStats& stats, Metrics* m) {
  const RedisTierStats& r = stats.remote;
  const PrefixCacheStats& p = stats.prefix;
  m->Set("parley_prefix_cache_remote_lookups_total", D(r.lookups));
  m->Set("parley_prefix_cache_remote_pages_total", D(r.hit_pages), "result=\"hit\"");
  m->Set("parley_prefix_cache_remote_pages_total", D(r.miss_pages), "result=\"miss\"");
  m->Set("parley_prefix_cache_remote_pages_total", D(r.bad_pages), "result=\"bad\"");
  m->Set("parley_prefix_cache_remote_bytes_total", D(r.read_bytes), "direction=\"read\"");
  m->Set("parley_prefix_cache_remote_bytes_total", D(r.written_bytes), "direction=\"written\"");
  m->Set("parley_prefix_cache_remote_imported_pages_total", D(p.remote_imported_pages));
  m->Set("parley_prefix_cache_remote_published_pages_total", D(r.published_pages));
  m->Set("parley_prefix_cache_remote_written_pages_total", D(r.written_pages));
  m->Set("parley_prefix_cache_remote_dropped_pages_total", D(r.dropped_pages));
  m->Set("parley_prefix_cache_remote_errors_total", D(r.errors));
  m->Set("parley_prefix_cache_remote_connected", r.connected ? 1 : 0);
  m->Set("parley_prefix_cache_remote_queued_bytes", D(r.queued_bytes));
  m->Set("parley_prefix_cache_remote_wait_timeouts_total", D(stats.remote_wait_timeouts));
  SetHistogram("parley_prefix_cache_remote_wait_seconds", stats.remote_wait, m);
}

void ExportSpec(const EngineStats::Spec& spec, Metrics* m) {
  int64_t drafted = 0, accepted = 0;
  for (int src = 1; src < kNumDraftSources; ++src) {
    const std::string label = std::string("source=\"") + DraftSourceName(static_cast<DraftSource>(src)) + "\"";
    m->Set("parley_spec_draft_tokens_total", D(spec.drafted[src]), label);
    m->Set("parley_spec_accepted_tokens_total", D(spec.accepted[src]), label);
    drafted += spec.drafted[src];
    accepted += spec.accepted[src];
  }
  m->Set("parley_spec_verifications_total", D(spec.verifications));
  m->Set("parley_spec_verified_output_tokens_total", D(spec.verified_tokens));
  m->Set("parley_spec_acceptance_rate", drafted > 0 ? static_cast<double>(accepted) / drafted : 0.0);
  m->Set("parley_spec_tokens_per_verification",
         spec.verifications > 0 ? static_cast<double>(spec.verified_tokens) / spec.verifications : 0.0);
  m->Set("parley_spec_token_price", spec.token_price);
}

}  // namespace

void DeclareEngineMetrics(const EngineStats& stats, Metrics* m) {
  m->Declare("parley_requests_total", "counter", "Finished requests by outcome.");
  m->Declare("parley_prompt_tokens_total", "counter", "Prompt tokens of finished requests.");
  m->Declare("parley_prompt_tokens_computed_total", "counter", "Prompt tokens computed (not cached).");
  m->Declare("parley_generation_tokens_total", "counter", "Generated tokens.");
  m->Declare("parley_time_to_first_token_seconds", "histogram", "Submit to first token.",
             stats.time_to_first_token.bounds);
  m->Declare("parley_inter_token_latency_seconds", "histogram", "Time between tokens of a stream.",
             stats.inter_token_latency.bounds);
  m->Declare("parley_request_latency_seconds", "histogram", "Submit to last token.", stats.request_latency.bounds);
  m->Declare("parley_requests_waiting", "gauge", "Requests queued, not yet running.");
  m->Declare("parley_step_cost_seconds", "gauge",
             "The step-cost model: seconds per step = base + per_token * tokens + per_pair * attention pairs "
             "(steps=\"all\": every step, for stall-free pacing; steps=\"small\": steps of at most 192 tokens, "
             "for speculative decoding's token price).");
  if (stats.spec.enabled) {
    m->Declare("parley_spec_draft_tokens_total", "counter", "Speculative decoding: drafted tokens verified, by source.");
    m->Declare("parley_spec_accepted_tokens_total", "counter", "Drafted tokens the model's own choice kept, by source.");
    m->Declare("parley_spec_verifications_total", "counter", "Decode steps of a sequence that verified a draft.");
    m->Declare("parley_spec_verified_output_tokens_total", "counter",
               "Tokens those steps produced (kept drafts plus the model's next token).");
    m->Declare("parley_spec_acceptance_rate", "gauge", "Accepted / drafted tokens since start.");
    m->Declare("parley_spec_tokens_per_verification", "gauge", "Output tokens per verifying decode step.");
    m->Declare("parley_spec_token_price", "gauge",
               "Acceptance chance a drafted token must beat in the latest step (batch decodes x marginal token "
               "cost / step time; near 1: compute-bound, speculation off).");
  }
  m->Declare("parley_requests_running", "gauge", "Sequences running.");
  m->Declare("parley_kv_pages_used", "gauge", "KV pages in use per KV group.");
  m->Declare("parley_kv_pages_total", "gauge", "KV pages per KV group.");
  m->Declare("parley_preemptions_total", "counter", "Sequences preempted (pages freed, recomputed later).");
  m->Declare("parley_engine_steps_total", "counter", "Engine steps (forward passes).");
  m->Declare("parley_batch_tokens", "histogram", "Tokens per forward pass.", stats.batch_tokens.bounds);
  m->Declare("parley_prompt_tokens_by_source_total", "counter",
             "Prompt tokens of finished requests by source: computed, pool (cached, resident), host "
             "(cached, restored from the host tier), disk (cached, restored from the disk tier).");
  if (stats.checks_integrity) {
    m->Declare("parley_kv_integrity_checks_total", "counter",
               "Integrity checks of the scheduler, KV pools and prefix cache that passed "
               "(--check-integrity; a failed one stops the server).");
  }
  if (!stats.has_prefix_cache) return;
  m->Declare("parley_prefix_cache_lookups_total", "counter", "Prefix cache lookups (admissions).");
  m->Declare("parley_prefix_cache_hits_total", "counter", "Lookups that resumed at least one page.");
  m->Declare("parley_prefix_cache_misses_total", "counter",
             "Lookups that resumed nothing, by reason: new (never cached), evicted, window (pages matched "
             "but the window or global pages a resume needs are gone).");
  m->Declare("parley_prefix_cache_evicted_pages_total", "counter", "Pool pages the prefix cache gave up.");
  m->Declare("parley_prefix_cache_spilled_pages_total", "counter", "Evicted pages copied to the host tier.");
  m->Declare("parley_prefix_cache_restored_pages_total", "counter", "Pages copied back from the host tier.");
  m->Declare("parley_prefix_cache_host_dropped_pages_total", "counter", "Pages dropped from the host tier.");
  m->Declare("parley_prefix_cache_nodes", "gauge", "Pages of tokens in the prefix tree.");
  m->Declare("parley_prefix_cache_resident_pages", "gauge", "Pool pages the prefix cache holds, per KV group.");
  m->Declare("parley_prefix_cache_host_bytes", "gauge", "Bytes in the host tier.");
  if (stats.has_remote_tier) {
    m->Declare("parley_prefix_cache_remote_lookups_total", "counter",
               "Shared-tier (Redis) lookups: one MGET per admitted request the local tiers missed.");
    m->Declare("parley_prefix_cache_remote_pages_total", "counter",
               "Pages asked of the shared tier by result: hit, miss (no value, or Redis unreachable), bad "
               "(a value that failed its length, checksum, fingerprint, key or token check: a miss).");
    m->Declare("parley_prefix_cache_remote_bytes_total", "counter",
               "Bytes read from (hit values) and written to the shared tier.");
    m->Declare("parley_prefix_cache_remote_imported_pages_total", "counter",
               "Shared-tier pages copied into the KV pool.");
    m->Declare("parley_prefix_cache_remote_published_pages_total", "counter",
               "Pages queued for writing to the shared tier (write-behind).");
    m->Declare("parley_prefix_cache_remote_written_pages_total", "counter", "Pages Redis acknowledged.");
    m->Declare("parley_prefix_cache_remote_dropped_pages_total", "counter",
               "Pages not written to the shared tier: its queue was full, or Redis failed.");
    m->Declare("parley_prefix_cache_remote_errors_total", "counter",
               "Connections and commands to Redis that failed (refused, timed out, broken).");
    m->Declare("parley_prefix_cache_remote_connected", "gauge", "1 while the shared tier has a Redis connection.");
    m->Declare("parley_prefix_cache_remote_queued_bytes", "gauge", "Bytes waiting in the write-behind queue.");
    m->Declare("parley_prefix_cache_remote_wait_timeouts_total", "counter",
               "Requests admitted before their shared-tier lookup answered (--redis-wait-ms).");
    m->Declare("parley_prefix_cache_remote_wait_seconds", "histogram",
               "Time a request waited for its shared-tier lookup before admission.", stats.remote_wait.bounds);
  }
  if (!stats.has_disk_tier) return;
  m->Declare("parley_prefix_cache_disk_written_pages_total", "counter",
             "Pages written to the disk tier (moved down from the host tier, or spilled).");
  m->Declare("parley_prefix_cache_disk_restored_pages_total", "counter",
             "Of the restored pages, those read from the disk tier.");
  m->Declare("parley_prefix_cache_disk_dropped_pages_total", "counter", "Pages dropped from the disk tier.");
  m->Declare("parley_prefix_cache_disk_errors_total", "counter",
             "Disk tier pages that could not be written, or were missing or damaged when read (misses).");
  m->Declare("parley_prefix_cache_disk_faults_total", "counter",
             "Disk tier faults by kind (each a page not stored or not read back: a miss): write, "
             "no_space, rename, read, read_missing, read_size, read_corrupt.");
  m->Declare("parley_prefix_cache_disk_bytes", "gauge", "Bytes in the disk tier.");
}

void ExportEngineStats(const EngineStats& stats, Metrics* m) {
  for (const auto& [reason, n] : stats.finished) {
    m->Set("parley_requests_total", D(n), std::string("outcome=\"") + FinishReasonName(reason) + "\"");
  }
  m->Set("parley_prompt_tokens_total", D(stats.prompt_tokens));
  m->Set("parley_prompt_tokens_computed_total", D(stats.prompt_sources.computed));
  m->Set("parley_generation_tokens_total", D(stats.generation_tokens));
  SetHistogram("parley_time_to_first_token_seconds", stats.time_to_first_token, m);
  SetHistogram("parley_inter_token_latency_seconds", stats.inter_token_latency, m);
  SetHistogram("parley_request_latency_seconds", stats.request_latency, m);
  ExportEngineGauges(stats, m);
  const std::pair<const char*, const double*> models[] = {
      {"all", stats.step_cost_ready ? stats.step_cost : nullptr},
      {"small", stats.small_step_cost_ready ? stats.small_step_cost : nullptr}};
  for (const auto& [steps, c] : models) {
    if (c == nullptr) continue;
    const std::string l = std::string("steps=\"") + steps + "\",term=";
    m->Set("parley_step_cost_seconds", c[0], l + "\"base\"");
    m->Set("parley_step_cost_seconds", c[1], l + "\"per_token\"");
    m->Set("parley_step_cost_seconds", c[2], l + "\"per_pair\"");
  }
  if (stats.spec.enabled) ExportSpec(stats.spec, m);
  m->Set("parley_preemptions_total", D(stats.preemptions));
  m->Set("parley_engine_steps_total", D(stats.forward_passes));
  if (stats.checks_integrity) m->Set("parley_kv_integrity_checks_total", D(stats.integrity_checks));
  SetHistogram("parley_batch_tokens", stats.batch_tokens, m);
  if (stats.prompts_counted > 0) {
    const EngineStats::PromptSources& src = stats.prompt_sources;
    m->Set("parley_prompt_tokens_by_source_total", D(src.computed), "source=\"computed\"");
    m->Set("parley_prompt_tokens_by_source_total", D(src.pool), "source=\"pool\"");
    m->Set("parley_prompt_tokens_by_source_total", D(src.host), "source=\"host\"");
    if (stats.has_disk_tier) m->Set("parley_prompt_tokens_by_source_total", D(src.disk), "source=\"disk\"");
  }
  if (stats.has_prefix_cache) ExportPrefixCache(stats, m);
  if (stats.has_remote_tier) ExportRemoteTier(stats, m);
}

void ExportEngineGauges(const EngineStats& stats, Metrics* metrics) {
  metrics->Set("parley_requests_waiting", stats.waiting);
  metrics->Set("parley_requests_running", stats.running);
  for (size_t g = 0; g < stats.kv_groups.size(); ++g) {
    const std::string labels = "group=\"" + std::to_string(g) + "\",window=\"" +
                               std::to_string(stats.kv_groups[g].window) + "\"";
    metrics->Set("parley_kv_pages_used", stats.kv_groups[g].pages_used, labels);
    metrics->Set("parley_kv_pages_total", stats.kv_groups[g].pages_total, labels);
  }
}

}  // namespace parley
