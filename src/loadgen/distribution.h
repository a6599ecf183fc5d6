// A distribution of lengths or times, written on the command line as
//   N              always N
//   uniform:A:B    uniform in [A, B]
//   normal:M:S     normal with mean M and standard deviation S
//   lognormal:M:S  log-normal with mean M and standard deviation S (of the values, not the logs)
//   exp:M          exponential with mean M
// followed optionally by ",min=X" and/or ",max=Y" to clamp (normal and friends are always
// clamped at 0).
#pragma once

#include <string>

#include "base/status.h"
#include "loadgen/random.h"

namespace parley::loadgen {

class Distribution {
 public:
  enum class Kind { kFixed, kUniform, kNormal, kLogNormal, kExponential };

  static Distribution Fixed(double value);
  static StatusOr<Distribution> Parse(const std::string& spec);

  double Sample(Rng& rng) const;
  // The mean before clamping (what the user asked for).
  double Mean() const;
  std::string ToString() const;

 private:
  Kind kind_ = Kind::kFixed;
  double a_ = 0, b_ = 0;  // fixed: a; uniform: [a, b]; normal/lognormal: mean a, sd b; exp: mean a
  double min_ = 0, max_ = 1e300;
  std::string spec_;
};

}  // namespace parley::loadgen
