// The attention kernels: every SIMD level's AttendScores / AttendMix against the scalar
// references (all head counts 1..9, head sizes with and without SIMD tails, f32 and f16
// rows scattered in memory), and AttendBlock + AttendMerge over several blocks against a
// direct softmax attention in double. Sums compare within 1e-5 relative to the sum of
// magnitudes.
#include "kernels/attention.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "kernels/cpu.h"
#include "kernels/fp16.h"

namespace parley {
namespace {

// `len` rows of d values (f32 or f16) in shuffled order inside one buffer.
struct Rows {
  std::vector<uint8_t> buf;
  std::vector<const uint8_t*> ptr;
  std::vector<std::vector<float>> values;  // as the kernels read them
};

Rows MakeRows(int32_t len, int32_t d, bool f16, std::mt19937& rng) {
  Rows r;
  const size_t row_bytes = static_cast<size_t>(d) * (f16 ? 2 : 4) + 12;  // padding: rows not adjacent
  r.buf.resize(row_bytes * len);
  std::vector<int32_t> slot(len);
  for (int32_t i = 0; i < len; ++i) slot[i] = i;
  std::shuffle(slot.begin(), slot.end(), rng);
  std::uniform_real_distribution<float> dist(-2.0f, 2.0f);
  for (int32_t j = 0; j < len; ++j) {
    uint8_t* row = r.buf.data() + row_bytes * slot[j];
    std::vector<float> v(d);
    for (int32_t i = 0; i < d; ++i) {
      float x = dist(rng);
      if (f16) {
        const uint16_t h = F32ToF16(x);
        std::memcpy(row + 2 * i, &h, 2);
        x = F16ToF32(h);
      } else {
        std::memcpy(row + 4 * i, &x, 4);
      }
      v[i] = x;
    }
    r.ptr.push_back(row);
    r.values.push_back(std::move(v));
  }
  return r;
}

std::vector<float> Random(size_t n, std::mt19937& rng, float lo, float hi) {
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> x(n);
  for (float& v : x) v = dist(rng);
  return x;
}

class AttentionLevelTest : public ::testing::TestWithParam<SimdLevel> {
 protected:
  void SetUp() override {
    if (ForceSimdLevel(GetParam()) != GetParam()) GTEST_SKIP() << "level not available";
  }
  void TearDown() override { ForceSimdLevel(DetectedSimdLevel()); }
};

TEST_P(AttentionLevelTest, ScoresAndMixMatchTheScalarReferences) {
  std::mt19937 rng(11);
  for (bool f16 : {false, true}) {
    for (int32_t heads : {1, 2, 3, 4, 5, 8, 9}) {
      for (int32_t d : {7, 8, 16, 24, 48, 64, 80, 256}) {
        for (int32_t len : {1, 5, 128}) {
          Rows k = MakeRows(len, d, f16, rng);
          const std::vector<float> q = Random(static_cast<size_t>(heads) * d, rng, -1.0f, 1.0f);
          std::vector<float> got(static_cast<size_t>(heads) * len), want(got.size());
          AttendScores(q.data(), heads, d, k.ptr.data(), len, f16, got.data());
          scalar::AttendScores(q.data(), heads, d, k.ptr.data(), len, f16, want.data());
          for (int32_t h = 0; h < heads; ++h) {
            for (int32_t j = 0; j < len; ++j) {
              double mag = 0;
              for (int32_t i = 0; i < d; ++i) mag += std::fabs(q[h * d + i] * k.values[j][i]);
              ASSERT_NEAR(got[h * len + j], want[h * len + j], 1e-5 * mag + 1e-6)
                  << "scores f16=" << f16 << " heads=" << heads << " d=" << d << " len=" << len;
            }
          }
          const std::vector<float> p = Random(static_cast<size_t>(heads) * len, rng, 0.0f, 1.0f);
          std::vector<float> acc(static_cast<size_t>(heads) * d, -7.0f), acc_want(acc.size());
          AttendMix(p.data(), heads, d, k.ptr.data(), len, f16, acc.data());
          scalar::AttendMix(p.data(), heads, d, k.ptr.data(), len, f16, acc_want.data());
          for (int32_t h = 0; h < heads; ++h) {
            for (int32_t i = 0; i < d; ++i) {
              double mag = 0;
              for (int32_t j = 0; j < len; ++j) mag += std::fabs(p[h * len + j] * k.values[j][i]);
              ASSERT_NEAR(acc[h * d + i], acc_want[h * d + i], 1e-5 * mag + 1e-6)
                  << "mix f16=" << f16 << " heads=" << heads << " d=" << d << " len=" << len;
            }
          }
        }
      }
    }
  }
}

TEST_P(AttentionLevelTest, BlocksMergeToTheSoftmaxAttention) {
  std::mt19937 rng(12);
  for (bool f16 : {false, true}) {
    for (int32_t heads : {1, 4, 3}) {
      for (int32_t len : {1, 127, 128, 300}) {
        const int32_t d = 64;
        Rows k = MakeRows(len, d, f16, rng), v = MakeRows(len, d, f16, rng);
        const std::vector<float> q = Random(static_cast<size_t>(heads) * d, rng, -0.5f, 0.5f);
        const int32_t blocks = (len + kAttendBlock - 1) / kAttendBlock;
        std::vector<float> acc(static_cast<size_t>(blocks) * heads * d), mx(blocks * heads), sm(blocks * heads);
        std::vector<float> scores(static_cast<size_t>(heads) * kAttendBlock);
        for (int32_t b = 0; b < blocks; ++b) {
          AttendBlockArgs a;
          a.q = q.data();
          a.heads = heads;
          a.d = d;
          a.k = k.ptr.data() + b * kAttendBlock;
          a.v = v.ptr.data() + b * kAttendBlock;
          a.len = std::min(kAttendBlock, len - b * kAttendBlock);
          a.f16 = f16;
          AttendBlock(a, scores.data(), acc.data() + static_cast<size_t>(b) * heads * d, mx.data() + b * heads,
                      sm.data() + b * heads);
        }
        std::vector<float> out(static_cast<size_t>(heads) * d);
        AttendMerge(blocks, heads, d, acc.data(), mx.data(), sm.data(), out.data());
        for (int32_t h = 0; h < heads; ++h) {
          std::vector<double> s(len);
          double m = -1e300, total = 0;
          for (int32_t j = 0; j < len; ++j) {
            s[j] = 0;
            for (int32_t i = 0; i < d; ++i) s[j] += static_cast<double>(q[h * d + i]) * k.values[j][i];
            m = std::max(m, s[j]);
          }
          for (int32_t j = 0; j < len; ++j) total += s[j] = std::exp(s[j] - m);
          for (int32_t i = 0; i < d; ++i) {
            double want = 0, mag = 0;
            for (int32_t j = 0; j < len; ++j) {
              want += s[j] / total * v.values[j][i];
              mag += std::fabs(s[j] / total * v.values[j][i]);
            }
            ASSERT_NEAR(out[h * d + i], want, 1e-5 * mag + 1e-6) << "f16=" << f16 << " heads=" << heads
                                                                 << " len=" << len;
          }
        }
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Levels, AttentionLevelTest,
                         ::testing::Values(SimdLevel::kScalar, SimdLevel::kAvx2, SimdLevel::kAvx512),
                         [](const auto& info) { return std::string(SimdLevelName(info.param)); });

}  // namespace
}  // namespace parley
