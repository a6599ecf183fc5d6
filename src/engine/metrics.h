// Metrics: Prometheus-style counters, gauges and histograms, with optional labels, and
// their text exposition format (version 0.0.4). Thread-safe: the engine thread and the
// HTTP threads update them concurrently.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace parley {

class Metrics {
 public:
  // Declares a family once (later calls with the same name are ignored). `type` is
  // "counter", "gauge" or "histogram"; histograms need ascending bucket bounds.
  void Declare(const std::string& name, const std::string& type, const std::string& help,
               std::vector<double> buckets = {});
  // labels: "" or `outcome="stop",code="200"` (already escaped; no braces).
  void Add(const std::string& name, double value, const std::string& labels = "");
  void Set(const std::string& name, double value, const std::string& labels = "");
  void Observe(const std::string& name, double value, const std::string& labels = "");
  // Replaces a histogram sample with one counted elsewhere: `counts` per declared bucket
  // (not cumulative) plus the +Inf bucket, and the sum and count of the observations.
  void SetHistogram(const std::string& name, const std::vector<uint64_t>& counts, double sum, uint64_t count,
                    const std::string& labels = "");
  // Current value of a counter/gauge sample (0 if never set); for tests and logs.
  double Get(const std::string& name, const std::string& labels = "") const;

  // The whole registry in Prometheus text format, families in declaration order.
  std::string Render() const;

 private:
  struct Histogram {
    std::vector<uint64_t> counts;  // per bucket (not cumulative); + the +Inf bucket
    double sum = 0;
    uint64_t count = 0;
  };
  struct Family {
    std::string type, help;
    std::vector<double> buckets;
    std::map<std::string, double> values;         // counter / gauge samples by labels
    std::map<std::string, Histogram> histograms;  // by labels
  };
  Family* Find(const std::string& name);
  mutable std::mutex mu_;
  std::vector<std::string> order_;
  std::map<std::string, Family> families_;
};

}  // namespace parley
