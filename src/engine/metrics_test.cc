#include "engine/metrics.h"

#include <gtest/gtest.h>

namespace parley {
namespace {

TEST(MetricsTest, RendersCountersGaugesAndHistograms) {
  Metrics m;
  m.Declare("req_total", "counter", "Requests.");
  m.Declare("queue", "gauge", "Queue length.");
  m.Declare("lat_seconds", "histogram", "Latency.", {0.1, 1});
  m.Add("req_total", 2, "outcome=\"stop\"");
  m.Add("req_total", 1, "outcome=\"stop\"");
  m.Set("queue", 4);
  m.Observe("lat_seconds", 0.05);
  m.Observe("lat_seconds", 0.5);
  m.Observe("lat_seconds", 7);
  EXPECT_EQ(m.Get("req_total", "outcome=\"stop\""), 3);
  EXPECT_EQ(m.Get("lat_seconds"), 3);
  const std::string text = m.Render();
  EXPECT_NE(text.find("# TYPE req_total counter\nreq_total{outcome=\"stop\"} 3\n"), std::string::npos) << text;
  EXPECT_NE(text.find("queue 4\n"), std::string::npos);
  EXPECT_NE(text.find("lat_seconds_bucket{le=\"0.1\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("lat_seconds_bucket{le=\"1\"} 2\n"), std::string::npos);
  EXPECT_NE(text.find("lat_seconds_bucket{le=\"+Inf\"} 3\n"), std::string::npos);
  EXPECT_NE(text.find("lat_seconds_sum 7.55\n"), std::string::npos) << text;
  EXPECT_NE(text.find("lat_seconds_count 3\n"), std::string::npos);
}

}  // namespace
}  // namespace parley
