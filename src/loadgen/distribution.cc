#include "loadgen/distribution.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <sstream>
#include <vector>

namespace parley::loadgen {
namespace {

std::vector<std::string> Split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::stringstream in(s);
  std::string part;
  while (std::getline(in, part, sep)) out.push_back(part);
  if (!s.empty() && s.back() == sep) out.push_back("");
  return out;
}

bool ParseNumber(const std::string& s, double* out) {
  if (s.empty()) return false;
  char* end = nullptr;
  *out = std::strtod(s.c_str(), &end);
  return end == s.c_str() + s.size() && std::isfinite(*out);
}

}  // namespace

Distribution Distribution::Fixed(double value) {
  Distribution d;
  d.a_ = value;
  d.spec_ = std::to_string(value);
  return d;
}

StatusOr<Distribution> Distribution::Parse(const std::string& spec) {
  auto bad = [&](const std::string& why) {
    return Status::InvalidArgument("bad distribution '" + spec + "': " + why +
                                   " (expected N, uniform:A:B, normal:M:S, lognormal:M:S or exp:M, "
                                   "then optional ,min=X ,max=Y)");
  };
  std::vector<std::string> parts = Split(spec, ',');
  if (parts.empty()) return bad("empty");
  std::vector<std::string> f = Split(parts[0], ':');
  Distribution d;
  d.spec_ = spec;
  std::vector<double> args;
  for (size_t i = 1; i < f.size(); ++i) {
    double v;
    if (!ParseNumber(f[i], &v)) return bad("'" + f[i] + "' is not a number");
    args.push_back(v);
  }
  const std::string& name = f[0];
  double fixed;
  if (f.size() == 1 && ParseNumber(name, &fixed)) {
    d.kind_ = Kind::kFixed;
    d.a_ = fixed;
  } else if (name == "uniform" && args.size() == 2) {
    d.kind_ = Kind::kUniform;
    if (args[1] < args[0]) return bad("B < A");
  } else if ((name == "normal" || name == "lognormal") && args.size() == 2) {
    d.kind_ = name == "normal" ? Kind::kNormal : Kind::kLogNormal;
    if (args[1] < 0) return bad("negative standard deviation");
    if (name == "lognormal" && args[0] <= 0) return bad("log-normal mean must be positive");
  } else if (name == "exp" && args.size() == 1) {
    d.kind_ = Kind::kExponential;
    if (args[0] < 0) return bad("negative mean");
  } else {
    return bad("unknown form");
  }
  if (d.kind_ != Kind::kFixed) {
    d.a_ = args[0];
    d.b_ = args.size() > 1 ? args[1] : 0;
  }
  for (size_t i = 1; i < parts.size(); ++i) {
    std::vector<std::string> kv = Split(parts[i], '=');
    double v;
    if (kv.size() != 2 || !ParseNumber(kv[1], &v)) return bad("'" + parts[i] + "' is not min=X or max=Y");
    if (kv[0] == "min") {
      d.min_ = v;
    } else if (kv[0] == "max") {
      d.max_ = v;
    } else {
      return bad("'" + kv[0] + "' is not min or max");
    }
  }
  if (d.max_ < d.min_) return bad("max < min");
  return d;
}

double Distribution::Sample(Rng& rng) const {
  double v = 0;
  switch (kind_) {
    case Kind::kFixed:
      v = a_;
      break;
    case Kind::kUniform:
      v = a_ + (b_ - a_) * rng.Uniform();
      break;
    case Kind::kNormal:
      v = a_ + b_ * rng.Normal();
      break;
    case Kind::kLogNormal: {
      // Parameters of the underlying normal from the mean and sd of the values.
      double s2 = std::log(1.0 + (b_ * b_) / (a_ * a_));
      double mu = std::log(a_) - 0.5 * s2;
      v = std::exp(mu + std::sqrt(s2) * rng.Normal());
      break;
    }
    case Kind::kExponential:
      v = rng.Exponential(a_);
      break;
  }
  return std::clamp(v, std::max(min_, kind_ == Kind::kFixed ? -1e300 : 0.0), max_);
}

double Distribution::Mean() const {
  switch (kind_) {
    case Kind::kUniform:
      return 0.5 * (a_ + b_);
    default:
      return a_;
  }
}

std::string Distribution::ToString() const { return spec_; }

}  // namespace parley::loadgen
