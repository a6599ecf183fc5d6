#include "server/metrics_exporter.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace parley
