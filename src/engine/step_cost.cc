#include "engine/step_cost.h"

#include <algorithm>
#include <cmath>

namespace parley {
namespace {

// Features scaled to similar magnitudes, so the normal equations stay well conditioned.
constexpr double kTokenScale = 1.0 / 512;
constexpr double kPairScale = 1.0 / (1 << 20);

void Features(const StepShape& s, double x[3]) {
  x[0] = 1;
  x[1] = s.tokens * kTokenScale;
  x[2] = s.attention_pairs * kPairScale;
}

// Solves the k x k system m · c = b (k <= 3) by Gaussian elimination with partial pivoting.
// False when it is singular.
bool Solve(int k, double m[3][3], double b[3], double c[3]) {
  for (int i = 0; i < k; ++i) {
    int p = i;
    for (int r = i + 1; r < k; ++r) {
      if (std::fabs(m[r][i]) > std::fabs(m[p][i])) p = r;
    }
    if (std::fabs(m[p][i]) < 1e-12) return false;
    std::swap(m[i], m[p]);
    std::swap(b[i], b[p]);
    for (int r = i + 1; r < k; ++r) {
      const double f = m[r][i] / m[i][i];
      for (int j = i; j < k; ++j) m[r][j] -= f * m[i][j];
      b[r] -= f * b[i];
    }
  }
  for (int i = k - 1; i >= 0; --i) {
    double v = b[i];
    for (int j = i + 1; j < k; ++j) v -= m[i][j] * c[j];
    c[i] = v / m[i][i];
  }
  return true;
}

}  // namespace

void StepShape::Add(int32_t start, int32_t n) {
  tokens += n;
  // Σ_{i<n} (start + i + 1) keys.
  attention_pairs += static_cast<double>(n) * start + 0.5 * static_cast<double>(n) * (n + 1);
}

StepCostModel::StepCostModel(int32_t window) : window_(std::max(window, kMinSteps)) {}

void StepCostModel::Observe(const StepShape& shape, double seconds) {
  if (!(seconds >= 0) || shape.tokens <= 0) return;  // NaN or an empty step: nothing learned
  Sample s;
  Features(shape, s.x);
  s.seconds = seconds;
  if (static_cast<int32_t>(samples_.size()) < window_) {
    samples_.push_back(s);
  } else {
    samples_[next_] = s;
    next_ = (next_ + 1) % samples_.size();
  }
  ++num_seen_;
  max_tokens_seen_ = std::max(max_tokens_seen_, shape.tokens);
  Refit();
}

double StepCostModel::base_seconds() const { return coef_[0]; }
double StepCostModel::token_seconds() const { return coef_[1] * kTokenScale; }
double StepCostModel::pair_seconds() const { return coef_[2] * kPairScale; }

double StepCostModel::Predict(const StepShape& shape) const {
  double x[3];
  Features(shape, x);
  return coef_[0] * x[0] + coef_[1] * x[1] + coef_[2] * x[2];
}

// Non-negative least squares over three features, by trying every subset of them (seven
// small solves on the Gram matrix) and keeping the feasible fit with the least residual.
// A tiny ridge keeps a subset solvable when the steps seen do not vary a feature.
void StepCostModel::Refit() {
  double g[3][3] = {}, b[3] = {}, yy = 0;
  for (const Sample& s : samples_) {
    for (int i = 0; i < 3; ++i) {
      for (int j = 0; j < 3; ++j) g[i][j] += s.x[i] * s.x[j];
      b[i] += s.x[i] * s.seconds;
    }
    yy += s.seconds * s.seconds;
  }
  const double ridge = 1e-9 * (g[0][0] + g[1][1] + g[2][2]) + 1e-15;
  double best = INFINITY;
  double best_coef[3] = {0, 0, 0};
  for (int mask = 1; mask < 8; ++mask) {
    int idx[3], k = 0;
    for (int i = 0; i < 3; ++i) {
      if (mask & (1 << i)) idx[k++] = i;
    }
    double m[3][3], rhs[3], c[3] = {0, 0, 0};
    for (int i = 0; i < k; ++i) {
      for (int j = 0; j < k; ++j) m[i][j] = g[idx[i]][idx[j]] + (i == j ? ridge : 0);
      rhs[i] = b[idx[i]];
    }
    if (!Solve(k, m, rhs, c)) continue;
    double full[3] = {0, 0, 0};
    bool feasible = true;
    for (int i = 0; i < k; ++i) {
      if (c[i] < 0) feasible = false;
      full[idx[i]] = c[i];
    }
    if (!feasible) continue;
    // Residual sum of squares: y'y - 2 c'b + c'G c.
    double rss = yy;
    for (int i = 0; i < 3; ++i) {
      rss -= 2 * full[i] * b[i];
      for (int j = 0; j < 3; ++j) rss += full[i] * g[i][j] * full[j];
    }
    if (rss < best) {
      best = rss;
      std::copy(full, full + 3, best_coef);
    }
  }
  std::copy(best_coef, best_coef + 3, coef_);
}

}  // namespace parley
