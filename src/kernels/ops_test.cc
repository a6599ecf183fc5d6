// The f32 ops: scalar references against direct double-precision formulas, and every SIMD
// level against the scalar references. Bounds: sums compare within 1e-5 relative to the sum
// of magnitudes; element-wise ops within a few f32 ulps (1e-6 relative).
#include "kernels/ops.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "kernels/cpu.h"
#include "kernels/quant_test_util.h"

namespace parley {
namespace {

const int64_t kSizes[] = {1, 3, 8, 9, 31, 32, 33, 640, 1027};

void ExpectNear(const std::vector<float>& got, const std::vector<double>& want, double rel,
                const char* what) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_NEAR(got[i], want[i], rel * std::fabs(want[i]) + 1e-7) << what << " element " << i;
  }
}

TEST(OpsScalarTest, MatchDirectFormulas) {
  std::mt19937 rng(3);
  for (int64_t n : kSizes) {
    const std::vector<float> a = test::RandomFloats(n, rng, -3.0f, 3.0f);
    const std::vector<float> b = test::RandomFloats(n, rng, -3.0f, 3.0f);
    double dot = 0.0, abs_dot = 0.0, sq = 0.0;
    for (int64_t i = 0; i < n; ++i) {
      dot += static_cast<double>(a[i]) * b[i];
      abs_dot += std::fabs(static_cast<double>(a[i]) * b[i]);
      sq += static_cast<double>(a[i]) * a[i];
    }
    EXPECT_NEAR(scalar::DotF32(a.data(), b.data(), n), dot, 1e-6 * abs_dot);

    std::vector<float> y(static_cast<size_t>(n));
    std::vector<double> want(static_cast<size_t>(n));
    const double inv_rms = 1.0 / std::sqrt(sq / n + 1e-6);
    for (int64_t i = 0; i < n; ++i) want[i] = a[i] * inv_rms * b[i];
    scalar::RmsNorm(a.data(), b.data(), y.data(), n, 1e-6f);
    ExpectNear(y, want, 1e-6, "RmsNorm");

    std::vector<float> g = a;
    for (int64_t i = 0; i < n; ++i) {
      const double z = a[i];
      want[i] = 0.5 * z * (1.0 + std::tanh(0.7978845608 * (z + 0.044715 * z * z * z))) * b[i];
    }
    scalar::GeluTanhMul(g.data(), b.data(), n);
    ExpectNear(g, want, 1e-5, "GeluTanhMul");

    std::vector<float> s = a;
    for (int64_t i = 0; i < n; ++i) want[i] = a[i] / (1.0 + std::exp(-double{a[i]})) * b[i];
    scalar::SiluMul(s.data(), b.data(), n);
    ExpectNear(s, want, 1e-5, "SiluMul");

    std::vector<float> p = a;
    double max = a[0], sum = 0.0;
    for (float v : a) max = std::max<double>(max, v);
    for (float v : a) sum += std::exp(v - max);
    for (int64_t i = 0; i < n; ++i) want[i] = std::exp(a[i] - max) / sum;
    scalar::SoftmaxInPlace(p.data(), n);
    ExpectNear(p, want, 1e-5, "SoftmaxInPlace");
  }
}

TEST(OpsScalarTest, SoftmaxIsStableForLargeInputs) {
  std::vector<float> x = {1000.0f, 1000.0f, -1000.0f};
  scalar::SoftmaxInPlace(x.data(), 3);
  EXPECT_FLOAT_EQ(x[0], 0.5f);
  EXPECT_FLOAT_EQ(x[1], 0.5f);
  EXPECT_EQ(x[2], 0.0f);
}

TEST(OpsSimdTest, GatedActivationsHoldAtExtremes) {
  const std::vector<float> z = {-200.0f, -100.0f, -40.0f, -9.0f, -1e-3f, 0.0f, 1e-30f, 2e-3f, 5.0f, 30.0f, 88.0f, 300.0f};
  const std::vector<float> one(z.size(), 1.0f);
  for (SimdLevel level : test::AvailableLevels()) {
    test::ScopedSimdLevel scoped(level);
    for (int k = 0; k < 2; ++k) {
      std::vector<float> got = z, want = z;
      if (k == 0) {
        GeluTanhMul(got.data(), one.data(), static_cast<int64_t>(z.size()));
        scalar::GeluTanhMul(want.data(), one.data(), static_cast<int64_t>(z.size()));
      } else {
        SiluMul(got.data(), one.data(), static_cast<int64_t>(z.size()));
        scalar::SiluMul(want.data(), one.data(), static_cast<int64_t>(z.size()));
      }
      for (size_t i = 0; i < z.size(); ++i) {
        ASSERT_TRUE(std::isfinite(got[i])) << SimdLevelName(level) << " z=" << z[i];
        // Against the scalar formula, whose 1 + tanh(u) cancels for z < 0: 3e-6 relative, or
        // 1e-20 absolute where the scalar rounds to 0.
        ASSERT_NEAR(got[i], want[i], 3e-6f * std::fabs(want[i]) + 1e-20f) << SimdLevelName(level) << " z=" << z[i];
      }
    }
  }
}

TEST(OpsSimdTest, EveryLevelMatchesScalar) {
  std::mt19937 rng(17);
  for (SimdLevel level : test::AvailableLevels()) {
    test::ScopedSimdLevel scoped(level);
    for (int64_t n : kSizes) {
      SCOPED_TRACE(::testing::Message() << SimdLevelName(level) << " n=" << n);
      const std::vector<float> a = test::RandomFloats(n, rng, -3.0f, 3.0f);
      const std::vector<float> b = test::RandomFloats(n, rng, -3.0f, 3.0f);
      double abs_dot = 0.0;
      for (int64_t i = 0; i < n; ++i) abs_dot += std::fabs(static_cast<double>(a[i]) * b[i]);
      EXPECT_NEAR(DotF32(a.data(), b.data(), n), scalar::DotF32(a.data(), b.data(), n),
                  1e-5 * abs_dot + 1e-6);

      std::vector<float> got = b, want = b;
      AxpyF32(0.37f, a.data(), got.data(), n);
      scalar::AxpyF32(0.37f, a.data(), want.data(), n);
      for (int64_t i = 0; i < n; ++i) {
        // FMA versus mul+add: one rounding apart.
        ASSERT_NEAR(got[i], want[i], 1e-6 * (std::fabs(0.37f * a[i]) + std::fabs(b[i])));
      }

      got = b;
      want = b;
      AddF32(a.data(), got.data(), n);
      scalar::AddF32(a.data(), want.data(), n);
      EXPECT_EQ(got, want);

      got = a;
      want = a;
      ScaleF32(got.data(), -1.7f, n);
      scalar::ScaleF32(want.data(), -1.7f, n);
      EXPECT_EQ(got, want);

      got.assign(static_cast<size_t>(n), 0.0f);
      want.assign(static_cast<size_t>(n), 0.0f);
      RmsNorm(a.data(), b.data(), got.data(), n, 1e-6f);
      scalar::RmsNorm(a.data(), b.data(), want.data(), n, 1e-6f);
      for (int64_t i = 0; i < n; ++i) ASSERT_NEAR(got[i], want[i], 1e-6 * std::fabs(want[i]));

      got = a;  // in place: x and y alias
      RmsNorm(got.data(), b.data(), got.data(), n, 1e-6f);
      for (int64_t i = 0; i < n; ++i) ASSERT_NEAR(got[i], want[i], 1e-6 * std::fabs(want[i]));

      // The gated activations against the formulas in double: SIMD within 4e-6 relative (the
      // f32 rounding of u, amplified by |2u| through exp).
      // (The scalar versions are checked against their own formulas in OpsScalarTest.)
      const double tol = 4e-6;
      got = a;
      GeluTanhMul(got.data(), b.data(), n);
      for (int64_t i = 0; i < n && level != SimdLevel::kScalar; ++i) {
        const double z = a[i];
        const double g = z / (1.0 + std::exp(-2.0 * 0.7978845608 * (z + 0.044715 * z * z * z))) * b[i];
        ASSERT_NEAR(got[i], g, tol * std::fabs(g) + 1e-20) << "GELU " << i;
      }
      got = a;
      SiluMul(got.data(), b.data(), n);
      for (int64_t i = 0; i < n && level != SimdLevel::kScalar; ++i) {
        const double g = a[i] / (1.0 + std::exp(-double{a[i]})) * b[i];
        ASSERT_NEAR(got[i], g, tol * std::fabs(g) + 1e-20) << "SiLU " << i;
      }

      got = a;
      want = a;
      SoftmaxInPlace(got.data(), n);
      scalar::SoftmaxInPlace(want.data(), n);
      EXPECT_EQ(got, want);

      // ExpShifted: the same max; exp within the f32 rounding of x - max (amplified by
      // |x - max| up to ~6), the sum close.
      got = a;
      want = a;
      float got_max = 0, want_max = 0;
      const float got_sum = ExpShifted(got.data(), n, &got_max);
      const float want_sum = scalar::ExpShifted(want.data(), n, &want_max);
      EXPECT_EQ(got_max, want_max);
      double direct = 0;
      for (int64_t i = 0; i < n; ++i) {
        const double e = std::exp(static_cast<double>(a[i]) - want_max);
        ASSERT_NEAR(want[i], e, 6e-7 * e) << "ExpShifted scalar " << i;
        ASSERT_NEAR(got[i], e, 1e-6 * e) << "ExpShifted " << i;
        direct += e;
      }
      EXPECT_NEAR(got_sum, direct, 1e-6 * direct);
      EXPECT_NEAR(want_sum, direct, 1e-6 * direct);
    }
  }
}

}  // namespace
}  // namespace parley
