// The one place the engine's statistics get Prometheus names, help text, types and labels:
// DeclareEngineMetrics declares the families in the registry (in /metrics order), and
// /metrics calls ExportEngineStats with the engine's latest snapshot just before rendering.
// The engine itself records plain numbers (engine/engine_stats.h).
#ifndef PARLEY_SERVER_METRICS_EXPORTER_H_
#define PARLEY_SERVER_METRICS_EXPORTER_H_

#include "engine/engine_stats.h"
#include "engine/metrics.h"

namespace parley {

// Declares every engine family; the prefix cache's only when the snapshot has a prefix
// cache, its disk tier's only when it has a disk tier. Call once, before rendering.
void DeclareEngineMetrics(const EngineStats& stats, Metrics* metrics);

// Writes every declared engine family from the snapshot. A labelled sample appears once
// what it counts has happened (a finish reason, the first request's prompt tokens), a
// histogram once it has an observation, as when the engine wrote the registry itself.
void ExportEngineStats(const EngineStats& stats, Metrics* metrics);

// The state gauges alone: parley_requests_waiting, parley_requests_running and, per KV
// group (labels group, window), parley_kv_pages_used and parley_kv_pages_total.
void ExportEngineGauges(const EngineStats& stats, Metrics* metrics);

}  // namespace parley

#endif  // PARLEY_SERVER_METRICS_EXPORTER_H_
