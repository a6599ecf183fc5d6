#include "server/metrics_exporter.h"

#include <string>

namespace parley {

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
