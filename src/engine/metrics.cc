#include "engine/metrics.h"

#include <cmath>
#include <cstdio>
#include <sstream>

#include "base/check.h"

namespace parley {
namespace {

std::string FormatValue(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == std::floor(v) && std::fabs(v) < 1e15) {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%.0f", v);
    return buf;
  }
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.6g", v);
  return buf;
}

std::string Braces(const std::string& labels) { return labels.empty() ? "" : "{" + labels + "}"; }

std::string WithLe(const std::string& labels, const std::string& le) {
  return "{" + (labels.empty() ? "" : labels + ",") + "le=\"" + le + "\"}";
}

}  // namespace

void Metrics::Declare(const std::string& name, const std::string& type, const std::string& help,
                      std::vector<double> buckets) {
  std::lock_guard<std::mutex> lock(mu_);
  if (families_.count(name)) return;
  PARLEY_CHECK(type == "counter" || type == "gauge" || type == "histogram") << type;
  Family f;
  f.type = type;
  f.help = help;
  f.buckets = std::move(buckets);
  families_.emplace(name, std::move(f));
  order_.push_back(name);
}

Metrics::Family* Metrics::Find(const std::string& name) {
  auto it = families_.find(name);
  PARLEY_CHECK(it != families_.end()) << "metric " << name << " was not declared";
  return &it->second;
}

void Metrics::Add(const std::string& name, double value, const std::string& labels) {
  std::lock_guard<std::mutex> lock(mu_);
  Find(name)->values[labels] += value;
}

void Metrics::Set(const std::string& name, double value, const std::string& labels) {
  std::lock_guard<std::mutex> lock(mu_);
  Find(name)->values[labels] = value;
}

void Metrics::Observe(const std::string& name, double value, const std::string& labels) {
  std::lock_guard<std::mutex> lock(mu_);
  Family* f = Find(name);
  Histogram& h = f->histograms[labels];
  if (h.counts.empty()) h.counts.assign(f->buckets.size() + 1, 0);
  size_t i = 0;
  while (i < f->buckets.size() && value > f->buckets[i]) ++i;
  ++h.counts[i];
  h.sum += value;
  ++h.count;
}

void Metrics::SetHistogram(const std::string& name, const std::vector<uint64_t>& counts, double sum,
                           uint64_t count, const std::string& labels) {
  std::lock_guard<std::mutex> lock(mu_);
  Family* f = Find(name);
  PARLEY_CHECK(f->type == "histogram" && counts.size() == f->buckets.size() + 1) << name;
  Histogram& h = f->histograms[labels];
  h.counts = counts;
  h.sum = sum;
  h.count = count;
}

double Metrics::Get(const std::string& name, const std::string& labels) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = families_.find(name);
  if (it == families_.end()) return 0;
  if (it->second.type == "histogram") {
    auto h = it->second.histograms.find(labels);
    return h == it->second.histograms.end() ? 0 : static_cast<double>(h->second.count);
  }
  auto v = it->second.values.find(labels);
  return v == it->second.values.end() ? 0 : v->second;
}

std::string Metrics::Render() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::ostringstream out;
  for (const std::string& name : order_) {
    const Family& f = families_.at(name);
    out << "# HELP " << name << " " << f.help << "\n# TYPE " << name << " " << f.type << "\n";
    if (f.type != "histogram") {
      if (f.values.empty() && f.type == "gauge") continue;
      if (f.values.empty()) out << name << " 0\n";
      for (const auto& [labels, v] : f.values) out << name << Braces(labels) << " " << FormatValue(v) << "\n";
      continue;
    }
    for (const auto& [labels, h] : f.histograms) {
      uint64_t cumulative = 0;
      for (size_t i = 0; i < f.buckets.size(); ++i) {
        cumulative += h.counts[i];
        out << name << "_bucket" << WithLe(labels, FormatValue(f.buckets[i])) << " " << cumulative << "\n";
      }
      cumulative += h.counts.back();
      out << name << "_bucket" << WithLe(labels, "+Inf") << " " << cumulative << "\n";
      out << name << "_sum" << Braces(labels) << " " << FormatValue(h.sum) << "\n";
      out << name << "_count" << Braces(labels) << " " << h.count << "\n";
    }
  }
  return out.str();
}

}  // namespace parley
