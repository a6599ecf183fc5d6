// A small, portable, seeded random source for the workload generator. The standard
// library's distributions differ between implementations; these do not, so a seed gives
// the same workload on every machine.
#pragma once

#include <cmath>
#include <cstdint>

namespace parley::loadgen {

// SplitMix64 (Steele, Lea, Flood 2014): a 64-bit generator with a full-period state.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  // An independent stream for item `index` of the stream `seed` (conversation i, ...).
  static Rng For(uint64_t seed, uint64_t index) { return Rng(Mix(seed ^ Mix(index + 0x51ed27u))); }

  uint64_t Next() {
    state_ += 0x9e3779b97f4a7c15ull;
    return Mix(state_);
  }
  // Uniform in [0, 1).
  double Uniform() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }
  // Uniform integer in [0, n).
  uint64_t Below(uint64_t n) { return n == 0 ? 0 : Next() % n; }
  // Standard normal (Box-Muller).
  double Normal() {
    double u1 = 1.0 - Uniform();  // (0, 1]
    double u2 = Uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }
  // Exponential with the given mean.
  double Exponential(double mean) { return -std::log(1.0 - Uniform()) * mean; }

 private:
  static uint64_t Mix(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  uint64_t state_;
};

}  // namespace parley::loadgen
