// Microbenchmark of decode attention over a long context: one query token's AttendBlock
// over every block of 128 positions, then AttendMerge, for one KV head and the query heads
// sharing it, with K/V rows laid out as in a KV page pool (f32, f16 or int8 rows). One
// thread; prints figures only.
//   BM_AttendDecode/<format>/<heads>/<head_dim>/<positions>/<level>: Gemma 3 270M is 4
//   heads over one KV head of 256; SmolLM2-135M 3 heads over each of 3 KV heads of 64.
//   items/s = positions attended per second.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <vector>

#include "kernels/attention.h"
#include "kernels/cpu.h"
#include "kernels/fp16.h"
#include "kernels/kv_int8.h"

namespace parley {
namespace {

size_t HeadBytes(KvRowFormat format, int32_t d) {
  return format == KvRowFormat::kI8 ? KvI8HeadBytes(d) : static_cast<size_t>(d) * (format == KvRowFormat::kF16 ? 2 : 4);
}

// `n` rows of one KV head, contiguous as in a page, from random floats.
std::vector<uint8_t> Rows(KvRowFormat format, int32_t d, int32_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  const size_t row_bytes = HeadBytes(format, d);
  std::vector<uint8_t> rows(row_bytes * n);
  std::vector<float> x(d);
  for (int32_t j = 0; j < n; ++j) {
    for (float& v : x) v = normal(rng);
    uint8_t* row = rows.data() + row_bytes * j;
    if (format == KvRowFormat::kI8) {
      QuantizeKvRowI8(x.data(), 1, d, row);
    } else if (format == KvRowFormat::kF16) {
      for (int32_t i = 0; i < d; ++i) {
        const uint16_t h = F32ToF16(x[i]);
        std::memcpy(row + 2 * i, &h, 2);
      }
    } else {
      std::memcpy(row, x.data(), sizeof(float) * d);
    }
  }
  return rows;
}

void BM_AttendDecode(benchmark::State& state) {
  const auto format = static_cast<KvRowFormat>(state.range(0));
  const int32_t heads = static_cast<int32_t>(state.range(1)), d = static_cast<int32_t>(state.range(2));
  const int32_t n = static_cast<int32_t>(state.range(3));
  const auto level = static_cast<SimdLevel>(state.range(4));
  if (ForceSimdLevel(level) != level) {
    state.SkipWithError("SIMD level not available");
    return;
  }
  const std::vector<uint8_t> k = Rows(format, d, n, 1), v = Rows(format, d, n, 2);
  const size_t row_bytes = HeadBytes(format, d);
  std::vector<const uint8_t*> kp(n), vp(n);
  for (int32_t j = 0; j < n; ++j) {
    kp[j] = k.data() + row_bytes * j;
    vp[j] = v.data() + row_bytes * j;
  }
  std::vector<float> q(static_cast<size_t>(heads) * d, 0.01f), out(q.size());
  const int32_t blocks = (n + kAttendBlock - 1) / kAttendBlock;
  std::vector<float> scores(static_cast<size_t>(heads) * kAttendBlock), acc(static_cast<size_t>(blocks) * heads * d);
  std::vector<float> max(static_cast<size_t>(blocks) * heads), sum(max.size());
  for (auto _ : state) {
    for (int32_t b = 0; b < blocks; ++b) {
      AttendBlockArgs a;
      a.q = q.data();
      a.heads = heads;
      a.d = d;
      a.k = kp.data() + b * kAttendBlock;
      a.v = vp.data() + b * kAttendBlock;
      a.len = std::min(kAttendBlock, n - b * kAttendBlock);
      a.format = format;
      AttendBlock(a, scores.data(), acc.data() + static_cast<size_t>(b) * heads * d, max.data() + b * heads,
                  sum.data() + b * heads);
    }
    AttendMerge(blocks, heads, d, acc.data(), max.data(), sum.data(), out.data());
    benchmark::DoNotOptimize(out.data());
  }
  ForceSimdLevel(DetectedSimdLevel());
  state.SetItemsProcessed(state.iterations() * n);
  state.SetBytesProcessed(state.iterations() * 2 * static_cast<int64_t>(row_bytes) * n);
  state.SetLabel(std::string(format == KvRowFormat::kF32 ? "f32" : format == KvRowFormat::kF16 ? "f16" : "int8") +
                 "/" + SimdLevelName(level));
}

void AttendDecodeArgs(benchmark::internal::Benchmark* b) {
  for (int64_t format : {0, 1, 2}) {
    for (auto [heads, d] : {std::pair<int64_t, int64_t>{4, 256}, {3, 64}}) {
      for (int64_t level : {static_cast<int64_t>(SimdLevel::kAvx2), static_cast<int64_t>(SimdLevel::kAvx512)}) {
        b->Args({format, heads, d, 4096, level});
      }
    }
  }
}
BENCHMARK(BM_AttendDecode)->Apply(AttendDecodeArgs)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace parley
