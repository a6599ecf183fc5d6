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

TEST(MetricsTest, SetHistogramRendersLikeTheSameObservations) {
  Metrics observed, set;
  for (Metrics* m : {&observed, &set}) m->Declare("lat_seconds", "histogram", "Latency.", {0.1, 1});
  for (double v : {0.05, 0.5, 7.0, 0.5}) observed.Observe("lat_seconds", v, "route=\"a\"");
  set.SetHistogram("lat_seconds", {9, 9, 9}, 1, 27, "route=\"a\"");  // replaced below
  set.SetHistogram("lat_seconds", {1, 2, 1}, 0.05 + 0.5 + 7.0 + 0.5, 4, "route=\"a\"");
  EXPECT_EQ(set.Render(), observed.Render());
  EXPECT_EQ(set.Get("lat_seconds", "route=\"a\""), 4);
}

}  // namespace
}  // namespace parley
