// Writes the engine's state gauges (queue lengths, KV pages per group) from an EngineStats
// snapshot into the Prometheus registry. The one place these gauges are written: /metrics
// calls it just before rendering.
#ifndef PARLEY_SERVER_METRICS_EXPORTER_H_
#define PARLEY_SERVER_METRICS_EXPORTER_H_

#include "engine/engine.h"
#include "engine/metrics.h"

namespace parley {

// Sets parley_requests_waiting, parley_requests_running and, per KV group (labels group,
// window), parley_kv_pages_used and parley_kv_pages_total. The families must be declared.
void ExportEngineGauges(const EngineStats& stats, Metrics* metrics);

}  // namespace parley

#endif  // PARLEY_SERVER_METRICS_EXPORTER_H_
