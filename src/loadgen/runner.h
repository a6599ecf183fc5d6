// Replays a planned workload against one endpoint: closed loop (a fixed number of users,
// each playing one conversation after another, or with --interleave all of its share at
// once, a turn of each in rotation) or open loop (conversations arriving as a Poisson
// process). Failures are recorded, never fatal; the run stops at its bounds.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "loadgen/client.h"
#include "loadgen/workload.h"

namespace parley::loadgen {

struct RunOptions {
  std::string name = "endpoint";  // shown in the progress line and the report
  int32_t users = 8;              // closed loop: concurrent users
  double rate = 0;                // > 0: open loop, conversations per second (Poisson)
  bool interleave = false;        // closed loop: each user keeps its conversations open at once, one turn each in rotation
  double max_duration_s = 3600;   // then in-flight requests are cancelled and no new one starts
  int64_t max_requests = 0;       // 0 = every turn of the workload
  double request_timeout_s = 600;
  double temperature = 0.7;
  bool ignore_eos = false;
  uint64_t seed = 1;              // per-request sampling seeds derive from it
  bool progress = true;           // a progress line on stderr
};

struct RequestRecord {
  int32_t conversation = 0;
  int32_t turn = 0;
  double start_s = 0;  // since the run began
  TurnResult result;
};

struct RunResult {
  std::vector<RequestRecord> records;  // in completion order
  double duration_s = 0;
  int64_t turns_planned = 0;
  bool hit_time_bound = false;
  bool hit_request_bound = false;
};

RunResult RunWorkload(const Endpoint& endpoint, const std::vector<ConversationPlan>& plans, const RunOptions& opts);

}  // namespace parley::loadgen
