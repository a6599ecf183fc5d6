#include "server/metrics_exporter.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <sstream>
#include <string>
#include <vector>

namespace parley {
namespace {

TEST(MetricsExporterTest, WritesQueueAndKvPageGauges) {
  Metrics m;
  m.Declare("parley_requests_waiting", "gauge", "w");
  m.Declare("parley_requests_running", "gauge", "r");
  m.Declare("parley_kv_pages_used", "gauge", "u");
  m.Declare("parley_kv_pages_total", "gauge", "t");
  EngineStats s;
  s.waiting = 3;
  s.running = 2;
  EngineStats::Group g0;
  g0.window = 0;
  g0.pages_used = 5;
  g0.pages_total = 64;
  EngineStats::Group g1;
  g1.window = 512;
  g1.pages_used = 1;
  g1.pages_total = 8;
  s.kv_groups = {g0, g1};
  ExportEngineGauges(s, &m);
  EXPECT_EQ(m.Get("parley_requests_waiting"), 3);
  EXPECT_EQ(m.Get("parley_requests_running"), 2);
  EXPECT_EQ(m.Get("parley_kv_pages_used", "group=\"0\",window=\"0\""), 5);
  EXPECT_EQ(m.Get("parley_kv_pages_total", "group=\"0\",window=\"0\""), 64);
  EXPECT_EQ(m.Get("parley_kv_pages_used", "group=\"1\",window=\"512\""), 1);
  EXPECT_EQ(m.Get("parley_kv_pages_total", "group=\"1\",window=\"512\""), 8);
}

// The rendered lines that are samples (not # HELP / # TYPE).
std::vector<std::string> Samples(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line[0] != '#') out.push_back(line);
  }
  return out;
}

std::vector<std::string> Families(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("# TYPE ", 0) == 0) out.push_back(line.substr(7));
  }
  return out;
}

TEST(MetricsExporterTest, BeforeAnyRequestOnlyUnlabelledCountersAndStateRender) {
  EngineStats s;
  s.kv_groups.resize(1);
  s.kv_groups[0].pages_total = 10;
  Metrics m;
  DeclareEngineMetrics(s, &m);
  ExportEngineStats(s, &m);
  const std::string text = m.Render();
  EXPECT_EQ(Families(text), (std::vector<std::string>{
                                "parley_requests_total counter",
                                "parley_prompt_tokens_total counter",
                                "parley_prompt_tokens_computed_total counter",
                                "parley_generation_tokens_total counter",
                                "parley_time_to_first_token_seconds histogram",
                                "parley_inter_token_latency_seconds histogram",
                                "parley_request_latency_seconds histogram",
                                "parley_requests_waiting gauge",
                                "parley_step_cost_seconds gauge",
                                "parley_requests_running gauge",
                                "parley_kv_pages_used gauge",
                                "parley_kv_pages_total gauge",
                                "parley_preemptions_total counter",
                                "parley_engine_steps_total counter",
                                "parley_batch_tokens histogram",
                                "parley_prompt_tokens_by_source_total counter",
                            }));
  EXPECT_EQ(Samples(text), (std::vector<std::string>{
                               "parley_requests_total 0",
                               "parley_prompt_tokens_total 0",
                               "parley_prompt_tokens_computed_total 0",
                               "parley_generation_tokens_total 0",
                               "parley_requests_waiting 0",
                               "parley_requests_running 0",
                               "parley_kv_pages_used{group=\"0\",window=\"0\"} 0",
                               "parley_kv_pages_total{group=\"0\",window=\"0\"} 10",
                               "parley_preemptions_total 0",
                               "parley_engine_steps_total 0",
                               "parley_prompt_tokens_by_source_total 0",
                           }));
  EXPECT_NE(text.find("# HELP parley_time_to_first_token_seconds Submit to first token.\n"), std::string::npos);
}

TEST(MetricsExporterTest, RendersAHandMadeSnapshotWithPrefixAndDiskTiers) {
  EngineStats s;
  s.waiting = 1;
  s.running = 2;
  EngineStats::Group g0;
  g0.pages_used = 7;
  g0.pages_total = 20;
  g0.pages_cached = 5;
  EngineStats::Group g1;
  g1.window = 512;
  g1.pages_used = 3;
  g1.pages_total = 8;
  g1.pages_cached = 1;
  s.kv_groups = {g0, g1};
  s.preemptions = 4;
  s.forward_passes = 9;
  for (double t : {1.0, 3.0, 3000.0}) s.batch_tokens.Observe(t);
  s.finished[FinishReason::kStop] = 2;
  s.finished[FinishReason::kCancelled] = 1;
  s.time_to_first_token.Observe(0.02);
  s.inter_token_latency.Observe(0.5);
  s.inter_token_latency.Observe(0.25);
  s.request_latency.Observe(100);
  s.generation_tokens = 12;
  s.prompts_counted = 3;
  s.prompt_tokens = 50;
  s.prompt_sources = {10, 20, 15, 5};
  s.has_prefix_cache = true;
  s.has_disk_tier = true;
  s.prefix.lookups = 6;
  s.prefix.hits = 3;
  s.prefix.miss_new = 1;
  s.prefix.miss_evicted = 1;
  s.prefix.miss_window = 1;
  s.prefix.evicted_pages = 11;
  s.prefix.spilled_pages = 10;
  s.prefix.restored_pages = 8;
  s.prefix.host_dropped_pages = 2;
  s.prefix.disk_written_pages = 6;
  s.prefix.disk_restored_pages = 4;
  s.prefix.disk_dropped_pages = 1;
  s.prefix.disk_read_errors = 2;
  s.disk_write_errors = 1;
  s.prefix_nodes = 30;
  s.host_bytes = 4096;
  s.disk_bytes = 8192;
  s.disk_faults.write_failed = 1;
  s.disk_faults.read_corrupt = 2;
  Metrics m;
  DeclareEngineMetrics(s, &m);
  ExportEngineStats(s, &m);
  const std::string text = m.Render();
  const std::vector<std::string> families = Families(text);
  ASSERT_EQ(families.size(), 16u + 10u + 6u);
  EXPECT_EQ(families[16], "parley_prefix_cache_lookups_total counter");
  EXPECT_EQ(families[25], "parley_prefix_cache_host_bytes gauge");
  EXPECT_EQ(families[26], "parley_prefix_cache_disk_written_pages_total counter");
  EXPECT_EQ(families[30], "parley_prefix_cache_disk_faults_total counter");
  EXPECT_EQ(families[31], "parley_prefix_cache_disk_bytes gauge");
  const std::vector<std::string> want = {
      "parley_requests_total{outcome=\"cancelled\"} 1",
      "parley_requests_total{outcome=\"stop\"} 2",
      "parley_prompt_tokens_total 50",
      "parley_prompt_tokens_computed_total 10",
      "parley_generation_tokens_total 12",
      "parley_time_to_first_token_seconds_bucket{le=\"0.005\"} 0",
      "parley_time_to_first_token_seconds_bucket{le=\"0.01\"} 0",
      "parley_time_to_first_token_seconds_bucket{le=\"0.025\"} 1",
      "parley_time_to_first_token_seconds_bucket{le=\"0.05\"} 1",
      "parley_time_to_first_token_seconds_bucket{le=\"0.1\"} 1",
      "parley_time_to_first_token_seconds_bucket{le=\"0.25\"} 1",
      "parley_time_to_first_token_seconds_bucket{le=\"0.5\"} 1",
      "parley_time_to_first_token_seconds_bucket{le=\"1\"} 1",
      "parley_time_to_first_token_seconds_bucket{le=\"2.5\"} 1",
      "parley_time_to_first_token_seconds_bucket{le=\"5\"} 1",
      "parley_time_to_first_token_seconds_bucket{le=\"10\"} 1",
      "parley_time_to_first_token_seconds_bucket{le=\"30\"} 1",
      "parley_time_to_first_token_seconds_bucket{le=\"60\"} 1",
      "parley_time_to_first_token_seconds_bucket{le=\"+Inf\"} 1",
      "parley_time_to_first_token_seconds_sum 0.02",
      "parley_time_to_first_token_seconds_count 1",
      "parley_inter_token_latency_seconds_bucket{le=\"0.001\"} 0",
      "parley_inter_token_latency_seconds_bucket{le=\"0.0025\"} 0",
      "parley_inter_token_latency_seconds_bucket{le=\"0.005\"} 0",
      "parley_inter_token_latency_seconds_bucket{le=\"0.01\"} 0",
      "parley_inter_token_latency_seconds_bucket{le=\"0.02\"} 0",
      "parley_inter_token_latency_seconds_bucket{le=\"0.04\"} 0",
      "parley_inter_token_latency_seconds_bucket{le=\"0.08\"} 0",
      "parley_inter_token_latency_seconds_bucket{le=\"0.16\"} 0",
      "parley_inter_token_latency_seconds_bucket{le=\"0.32\"} 1",
      "parley_inter_token_latency_seconds_bucket{le=\"0.64\"} 2",
      "parley_inter_token_latency_seconds_bucket{le=\"1.28\"} 2",
      "parley_inter_token_latency_seconds_bucket{le=\"+Inf\"} 2",
      "parley_inter_token_latency_seconds_sum 0.75",
      "parley_inter_token_latency_seconds_count 2",
      "parley_request_latency_seconds_bucket{le=\"0.005\"} 0",
      "parley_request_latency_seconds_bucket{le=\"0.01\"} 0",
      "parley_request_latency_seconds_bucket{le=\"0.025\"} 0",
      "parley_request_latency_seconds_bucket{le=\"0.05\"} 0",
      "parley_request_latency_seconds_bucket{le=\"0.1\"} 0",
      "parley_request_latency_seconds_bucket{le=\"0.25\"} 0",
      "parley_request_latency_seconds_bucket{le=\"0.5\"} 0",
      "parley_request_latency_seconds_bucket{le=\"1\"} 0",
      "parley_request_latency_seconds_bucket{le=\"2.5\"} 0",
      "parley_request_latency_seconds_bucket{le=\"5\"} 0",
      "parley_request_latency_seconds_bucket{le=\"10\"} 0",
      "parley_request_latency_seconds_bucket{le=\"30\"} 0",
      "parley_request_latency_seconds_bucket{le=\"60\"} 0",
      "parley_request_latency_seconds_bucket{le=\"+Inf\"} 1",
      "parley_request_latency_seconds_sum 100",
      "parley_request_latency_seconds_count 1",
      "parley_requests_waiting 1",
      "parley_requests_running 2",
      "parley_kv_pages_used{group=\"0\",window=\"0\"} 7",
      "parley_kv_pages_used{group=\"1\",window=\"512\"} 3",
      "parley_kv_pages_total{group=\"0\",window=\"0\"} 20",
      "parley_kv_pages_total{group=\"1\",window=\"512\"} 8",
      "parley_preemptions_total 4",
      "parley_engine_steps_total 9",
      "parley_batch_tokens_bucket{le=\"1\"} 1",
      "parley_batch_tokens_bucket{le=\"2\"} 1",
      "parley_batch_tokens_bucket{le=\"4\"} 2",
      "parley_batch_tokens_bucket{le=\"8\"} 2",
      "parley_batch_tokens_bucket{le=\"16\"} 2",
      "parley_batch_tokens_bucket{le=\"32\"} 2",
      "parley_batch_tokens_bucket{le=\"64\"} 2",
      "parley_batch_tokens_bucket{le=\"128\"} 2",
      "parley_batch_tokens_bucket{le=\"256\"} 2",
      "parley_batch_tokens_bucket{le=\"512\"} 2",
      "parley_batch_tokens_bucket{le=\"1024\"} 2",
      "parley_batch_tokens_bucket{le=\"2048\"} 2",
      "parley_batch_tokens_bucket{le=\"+Inf\"} 3",
      "parley_batch_tokens_sum 3004",
      "parley_batch_tokens_count 3",
      "parley_prompt_tokens_by_source_total{source=\"computed\"} 10",
      "parley_prompt_tokens_by_source_total{source=\"disk\"} 5",
      "parley_prompt_tokens_by_source_total{source=\"host\"} 15",
      "parley_prompt_tokens_by_source_total{source=\"pool\"} 20",
      "parley_prefix_cache_lookups_total 6",
      "parley_prefix_cache_hits_total 3",
      "parley_prefix_cache_misses_total{reason=\"evicted\"} 1",
      "parley_prefix_cache_misses_total{reason=\"new\"} 1",
      "parley_prefix_cache_misses_total{reason=\"window\"} 1",
      "parley_prefix_cache_evicted_pages_total 11",
      "parley_prefix_cache_spilled_pages_total 10",
      "parley_prefix_cache_restored_pages_total 8",
      "parley_prefix_cache_host_dropped_pages_total 2",
      "parley_prefix_cache_nodes 30",
      "parley_prefix_cache_resident_pages{group=\"0\"} 5",
      "parley_prefix_cache_resident_pages{group=\"1\"} 1",
      "parley_prefix_cache_host_bytes 4096",
      "parley_prefix_cache_disk_written_pages_total 6",
      "parley_prefix_cache_disk_restored_pages_total 4",
      "parley_prefix_cache_disk_dropped_pages_total 1",
      "parley_prefix_cache_disk_errors_total 3",
      "parley_prefix_cache_disk_faults_total{kind=\"no_space\"} 0",
      "parley_prefix_cache_disk_faults_total{kind=\"read\"} 0",
      "parley_prefix_cache_disk_faults_total{kind=\"read_corrupt\"} 2",
      "parley_prefix_cache_disk_faults_total{kind=\"read_missing\"} 0",
      "parley_prefix_cache_disk_faults_total{kind=\"read_size\"} 0",
      "parley_prefix_cache_disk_faults_total{kind=\"rename\"} 0",
      "parley_prefix_cache_disk_faults_total{kind=\"write\"} 1",
      "parley_prefix_cache_disk_bytes 8192",
  };
  EXPECT_EQ(Samples(text), want);
}

TEST(MetricsExporterTest, RendersTheSharedTier) {
  EngineStats s;
  s.has_prefix_cache = true;
  s.has_remote_tier = true;
  s.remote.lookups = 3;
  s.remote.hit_pages = 40;
  s.remote.miss_pages = 5;
  s.remote.bad_pages = 1;
  s.remote.read_bytes = 4000;
  s.remote.written_bytes = 9000;
  s.remote.published_pages = 50;
  s.remote.written_pages = 45;
  s.remote.dropped_pages = 5;
  s.remote.errors = 2;
  s.remote.connected = true;
  s.prefix.remote_imported_pages = 39;
  s.remote_wait_timeouts = 1;
  s.remote_wait.Observe(0.002);
  Metrics m;
  DeclareEngineMetrics(s, &m);
  ExportEngineStats(s, &m);
  const std::string text = m.Render();
  for (const char* line : {"parley_prefix_cache_remote_lookups_total 3",
                           "parley_prefix_cache_remote_pages_total{result=\"hit\"} 40",
                           "parley_prefix_cache_remote_pages_total{result=\"miss\"} 5",
                           "parley_prefix_cache_remote_pages_total{result=\"bad\"} 1",
                           "parley_prefix_cache_remote_bytes_total{direction=\"read\"} 4000",
                           "parley_prefix_cache_remote_bytes_total{direction=\"written\"} 9000",
                           "parley_prefix_cache_remote_imported_pages_total 39",
                           "parley_prefix_cache_remote_dropped_pages_total 5",
                           "parley_prefix_cache_remote_errors_total 2",
                           "parley_prefix_cache_remote_connected 1",
                           "parley_prefix_cache_remote_wait_timeouts_total 1",
                           "parley_prefix_cache_remote_wait_seconds_count 1"}) {
    EXPECT_NE(text.find(std::string(line) + "\n"), std::string::npos) << line << "\n" << text;
  }
  // Without a shared tier, none of its families.
  EngineStats plain;
  plain.has_prefix_cache = true;
  Metrics m2;
  DeclareEngineMetrics(plain, &m2);
  ExportEngineStats(plain, &m2);
  EXPECT_EQ(m2.Render().find("remote"), std::string::npos);
}

TEST(MetricsExporterTest, IntegrityChecksRenderOnlyWhenTheEngineChecks) {
  EngineStats s;
  s.integrity_checks = 0;
  Metrics off;
  DeclareEngineMetrics(s, &off);
  ExportEngineStats(s, &off);
  EXPECT_EQ(off.Render().find("parley_kv_integrity_checks_total"), std::string::npos);

  s.checks_integrity = true;
  s.integrity_checks = 7;
  Metrics on;
  DeclareEngineMetrics(s, &on);
  ExportEngineStats(s, &on);
  const std::string text = on.Render();
  EXPECT_NE(text.find("# TYPE parley_kv_integrity_checks_total counter\n"), std::string::npos) << text;
  const std::vector<std::string> samples = Samples(text);
  EXPECT_NE(std::find(samples.begin(), samples.end(), "parley_kv_integrity_checks_total 7"), samples.end()) << text;
}

TEST(MetricsExporterTest, RendersSpeculationAndTheStepCostModels) {
  EngineStats s;
  s.step_cost_ready = true;
  s.step_cost[0] = 0.002;
  s.step_cost[1] = 0.0015;
  s.step_cost[2] = 1e-6;
  s.small_step_cost_ready = true;
  s.small_step_cost[0] = 0.008;
  s.small_step_cost[1] = 0.0005;
  s.spec.enabled = true;
  s.spec.drafted[static_cast<int>(DraftSource::kPrediction)] = 30;
  s.spec.accepted[static_cast<int>(DraftSource::kPrediction)] = 27;
  s.spec.drafted[static_cast<int>(DraftSource::kHistory)] = 10;
  s.spec.accepted[static_cast<int>(DraftSource::kHistory)] = 3;
  s.spec.verifications = 8;
  s.spec.verified_tokens = 38;
  s.spec.token_price = 0.25;
  Metrics m;
  DeclareEngineMetrics(s, &m);
  ExportEngineStats(s, &m);
  const std::vector<std::string> samples = Samples(m.Render());
  for (const char* want : {
           "parley_step_cost_seconds{steps=\"all\",term=\"base\"} 0.002",
           "parley_step_cost_seconds{steps=\"all\",term=\"per_token\"} 0.0015",
           "parley_step_cost_seconds{steps=\"all\",term=\"per_pair\"} 1e-06",
           "parley_step_cost_seconds{steps=\"small\",term=\"base\"} 0.008",
           "parley_step_cost_seconds{steps=\"small\",term=\"per_token\"} 0.0005",
           "parley_spec_draft_tokens_total{source=\"prediction\"} 30",
           "parley_spec_draft_tokens_total{source=\"history\"} 10",
           "parley_spec_draft_tokens_total{source=\"pool\"} 0",
           "parley_spec_accepted_tokens_total{source=\"prediction\"} 27",
           "parley_spec_accepted_tokens_total{source=\"history\"} 3",
           "parley_spec_verifications_total 8",
           "parley_spec_verified_output_tokens_total 38",
           "parley_spec_acceptance_rate 0.75",
           "parley_spec_tokens_per_verification 4.75",
           "parley_spec_token_price 0.25",
       }) {
    EXPECT_NE(std::find(samples.begin(), samples.end(), want), samples.end()) << want;
  }
}

}  // namespace
}  // namespace parley
