// The attention kernels: every SIMD level's AttendScores / AttendMix against the scalar
// references (all head counts 1..9, head sizes with and without SIMD tails, f32, f16 and
// int8 rows scattered in memory, int8 scales unaligned, int8 groups of 32 of different
// magnitudes and a last group of 16 or 7), and AttendBlock + AttendMerge over several blocks against a
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

constexpr KvRowFormat kFormats[] = {KvRowFormat::kF32, KvRowFormat::kF16, KvRowFormat::kI8};

const char* Name(KvRowFormat format) {
  return format == KvRowFormat::kF32 ? "f32" : format == KvRowFormat::kF16 ? "f16" : "int8";
}

// `len` rows of d values (f32, f16, or int8 plus its group scales) in shuffled order inside
// one buffer.
struct Rows {
  std::vector<uint8_t> buf;
  std::vector<const uint8_t*> ptr;
  std::vector<std::vector<float>> values;  // as the kernels read them
};

Rows MakeRows(int32_t len, int32_t d, KvRowFormat format, std::mt19937& rng) {
  Rows r;
  const size_t value_bytes = format == KvRowFormat::kF32 ? 4 : format == KvRowFormat::kF16 ? 2 : 1;
  const size_t row_bytes = (format == KvRowFormat::kI8 ? KvI8HeadBytes(d) : static_cast<size_t>(d) * value_bytes) +
                           13;  // padding: rows not adjacent, odd
  r.buf.resize(row_bytes * len);
  std::vector<int32_t> slot(len);
  for (int32_t i = 0; i < len; ++i) slot[i] = i;
  std::shuffle(slot.begin(), slot.end(), rng);
  std::uniform_real_distribution<float> dist(-2.0f, 2.0f);
  for (int32_t j = 0; j < len; ++j) {
    uint8_t* row = r.buf.data() + row_bytes * slot[j];
    std::vector<float> v(d);
    if (format == KvRowFormat::kI8) {
      // Groups 1/4, 2/4, 3/4, 4/4 the size: a kernel that took the wrong group's scale would
      // be far off.
      for (int32_t i = 0; i < d; ++i) v[i] = dist(rng) * 0.25f * static_cast<float>(1 + (i / kKvI8Group) % 4);
      QuantizeKvRowI8(v.data(), 1, d, row);
      DequantizeKvRowI8(row, 1, d, v.data());
      r.ptr.push_back(row);
      r.values.push_back(std::move(v));
      continue;
    }
    for (int32_t i = 0; i < d; ++i) {
      float x = dist(rng);
      if (format == KvRowFormat::kF16) {
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
  for (KvRowFormat format : kFormats) {
    for (int32_t heads : {1, 2, 3, 4, 5, 8, 9}) {
      for (int32_t d : {7, 8, 16, 24, 48, 64, 80, 256}) {
        for (int32_t len : {1, 5, 77, 128}) {
          Rows k = MakeRows(len, d, format, rng);
          const std::vector<float> q = Random(static_cast<size_t>(heads) * d, rng, -1.0f, 1.0f);
          std::vector<float> got(static_cast<size_t>(heads) * len), want(got.size());
          AttendScores(q.data(), heads, d, k.ptr.data(), len, format, got.data());
          scalar::AttendScores(q.data(), heads, d, k.ptr.data(), len, format, want.data());
          for (int32_t h = 0; h < heads; ++h) {
            for (int32_t j = 0; j < len; ++j) {
              double mag = 0;
              for (int32_t i = 0; i < d; ++i) mag += std::fabs(q[h * d + i] * k.values[j][i]);
              ASSERT_NEAR(got[h * len + j], want[h * len + j], 1e-5 * mag + 1e-6)
                  << "scores " << Name(format) << " heads=" << heads << " d=" << d << " len=" << len;
            }
          }
          const std::vector<float> p = Random(static_cast<size_t>(heads) * len, rng, 0.0f, 1.0f);
          std::vector<float> acc(static_cast<size_t>(heads) * d, -7.0f), acc_want(acc.size());
          AttendMix(p.data(), heads, d, k.ptr.data(), len, format, acc.data());
          scalar::AttendMix(p.data(), heads, d, k.ptr.data(), len, format, acc_want.data());
          for (int32_t h = 0; h < heads; ++h) {
            for (int32_t i = 0; i < d; ++i) {
              double mag = 0;
              for (int32_t j = 0; j < len; ++j) mag += std::fabs(p[h * len + j] * k.values[j][i]);
              ASSERT_NEAR(acc[h * d + i], acc_want[h * d + i], 1e-5 * mag + 1e-6)
                  << "mix " << Name(format) << " heads=" << heads << " d=" << d << " len=" << len;
            }
          }
        }
      }
    }
  }
}

// AttendBlock over blocks of kAttendBlock positions, merged, against a direct softmax
// attention in double over the values the rows hold.
void CheckBlocksMerge(KvRowFormat format, int32_t heads, int32_t len, int32_t d, std::mt19937& rng) {
  Rows k = MakeRows(len, d, format, rng), v = MakeRows(len, d, format, rng);
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
    a.format = format;
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
      ASSERT_NEAR(out[h * d + i], want, 1e-5 * mag + 1e-6)
          << Name(format) << " heads=" << heads << " len=" << len << " d=" << d;
    }
  }
}

TEST_P(AttentionLevelTest, BlocksMergeToTheSoftmaxAttention) {
  std::mt19937 rng(12);
  for (KvRowFormat format : kFormats) {
    for (int32_t heads : {1, 4, 3}) {
      for (int32_t len : {1, 127, 128, 300}) {
        for (int32_t d : {64, 256}) CheckBlocksMerge(format, heads, len, d, rng);
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Levels, AttentionLevelTest,
                         ::testing::Values(SimdLevel::kScalar, SimdLevel::kAvx2, SimdLevel::kAvx512),
                         [](const auto& info) { return std::string(SimdLevelName(info.param)); });

}  // namespace
}  // namespace parley
