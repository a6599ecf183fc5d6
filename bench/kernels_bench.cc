// Microbenchmarks of the weight-row kernels at every SIMD level this CPU has. Prints
// figures only; never a pass/fail on speed. PARLEY_SIMD does not apply: each benchmark
// forces its own level.
//   BM_DotRow/<type>/<level>/<KiB>: one row of 640 elements (1024 for the 256-element
//   K-types, as Gemma 3's attn_output), cycling through a set of rows of that many KiB
//   (256: L2-resident, compute-bound; 65536: from L3/DRAM).
//   BM_MatMulLayer/<type>/<tokens>/<level>: one layer matrix (see below).
//   BM_MatMulHead/<tokens>/<level>: the Gemma 3 tied output head, Q8_0 [262144, 640].
//   BM_MatMulHeadInt8/<tokens>: the same head as packed int8 panels (--weights int8; AMX from 16 tokens).
//   BM_MatMulFfnInt8/<tokens>: a Gemma FFN-sized product, int8 activations (--weights int8's attention
//   output); BM_MatMulFfnInt8I16/<tokens>: the same with 16-bit activations (its other layer products).
//   BM_ReadBandwidth/threads:N: memory read bandwidth over 1 GiB (the roofline's ceiling).
#include <benchmark/benchmark.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "kernels/cpu.h"
#include "kernels/int8_matmul.h"
#include "kernels/packed_matmul.h"
#include "kernels/quant.h"
#include "kernels/tensor_type.h"

namespace parley {
namespace {

std::vector<uint8_t> QuantizedMatrix(TensorType type, int64_t rows, int64_t n) {
  std::mt19937 rng(1);
  std::normal_distribution<float> normal(0.0f, 0.02f);
  std::vector<float> src(static_cast<size_t>(n));
  const size_t row_bytes = RowBytes(type, n);
  std::vector<uint8_t> w(row_bytes * rows);
  for (int64_t r = 0; r < rows; ++r) {
    for (float& v : src) v = normal(rng);
    QuantizeRow(type, src.data(), w.data() + r * row_bytes, n);
  }
  return w;
}

std::vector<float> Activations(int64_t n) {
  std::mt19937 rng(2);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(n));
  for (float& v : x) v = normal(rng);
  return x;
}

void BM_DotRow(benchmark::State& state) {
  const TensorType type = static_cast<TensorType>(state.range(0));
  const SimdLevel level = static_cast<SimdLevel>(state.range(1));
  if (ForceSimdLevel(level) != level) {
    state.SkipWithError("SIMD level not available");
    return;
  }
  const int64_t kN = FindTypeInfo(static_cast<uint32_t>(type))->block_elems == 256 ? 1024 : 640;
  const size_t row_bytes = RowBytes(type, kN);
  const int64_t rows = static_cast<int64_t>((state.range(2) << 10) / row_bytes);
  const std::vector<uint8_t> w = QuantizedMatrix(type, rows, kN);
  const std::vector<float> x = Activations(kN);
  int64_t r = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(DotRow(type, w.data() + r * row_bytes, x.data(), kN));
    if (++r == rows) r = 0;
  }
  state.SetLabel(std::string(FindTypeInfo(static_cast<uint32_t>(type))->name) +
                 " n=" + std::to_string(kN) + " " + SimdLevelName(level));
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(row_bytes));
}

void DotRowArgs(benchmark::internal::Benchmark* b) {
  for (TensorType t : {TensorType::kQ8_0, TensorType::kQ4_K, TensorType::kQ5_0, TensorType::kQ6_K,
                       TensorType::kQ4_1, TensorType::kQ4_0, TensorType::kQ5_1, TensorType::kQ5_K,
                       TensorType::kQ2_K, TensorType::kQ3_K, TensorType::kF16, TensorType::kBF16,
                       TensorType::kF32}) {
    for (int level = 0; level <= static_cast<int>(DetectedSimdLevel()); ++level) {
      for (int64_t kib : {256, 65536}) b->Args({static_cast<int64_t>(t), level, kib});
    }
  }
}
BENCHMARK(BM_DotRow)->Apply(DotRowArgs);

// One layer matrix, all rows, single thread: Gemma 3's ffn_up (Q5_0 [2048, 640]) and
// ffn_down (Q4_K [640, 2048]), SmolLM2's ffn_up (Q4_1 [1536, 576]).
void BM_MatMulLayer(benchmark::State& state) {
  const TensorType type = static_cast<TensorType>(state.range(0));
  const int64_t num_tokens = state.range(1);
  const SimdLevel level = static_cast<SimdLevel>(state.range(2));
  if (ForceSimdLevel(level) != level) {
    state.SkipWithError("SIMD level not available");
    return;
  }
  const int64_t rows = type == TensorType::kQ4_K ? 640 : type == TensorType::kQ5_0 ? 2048 : 1536;
  const int64_t n = type == TensorType::kQ4_K ? 2048 : type == TensorType::kQ5_0 ? 640 : 576;
  const std::vector<uint8_t> w = QuantizedMatrix(type, rows, n);
  const std::vector<float> x = Activations(n * num_tokens);
  std::vector<float> y(static_cast<size_t>(rows * num_tokens));
  const MatMulArgs args{type, w.data(), RowBytes(type, n), n, x.data(), n, y.data(), rows,
                        num_tokens};
  for (auto _ : state) {
    MatMulRows(args, 0, rows);
    benchmark::ClobberMemory();
  }
  state.SetLabel(std::string(FindTypeInfo(static_cast<uint32_t>(type))->name) + " " +
                 SimdLevelName(level));
  state.counters["GFLOP/s"] =
      benchmark::Counter(2.0 * n * rows * num_tokens * state.iterations(),
                         benchmark::Counter::kIsRate, benchmark::Counter::OneK::kIs1000);
}
void MatMulLayerArgs(benchmark::internal::Benchmark* b) {
  for (TensorType t : {TensorType::kQ5_0, TensorType::kQ4_K, TensorType::kQ4_1}) {
    for (int64_t tokens : {1, 16, 128}) {
      for (int level = 0; level <= static_cast<int>(DetectedSimdLevel()); ++level) {
        b->Args({static_cast<int64_t>(t), tokens, level});
      }
    }
  }
}
BENCHMARK(BM_MatMulLayer)->Apply(MatMulLayerArgs)->Unit(benchmark::kMicrosecond);

void BM_MatMulHead(benchmark::State& state) {
  const int64_t num_tokens = state.range(0);
  const SimdLevel level = static_cast<SimdLevel>(state.range(1));
  if (ForceSimdLevel(level) != level) {
    state.SkipWithError("SIMD level not available");
    return;
  }
  constexpr int64_t kN = 640, kRows = 262144;
  static const std::vector<uint8_t> w = QuantizedMatrix(TensorType::kQ8_0, kRows, kN);
  const std::vector<float> x = Activations(kN * num_tokens);
  std::vector<float> y(static_cast<size_t>(kRows * num_tokens));
  const MatMulArgs args{TensorType::kQ8_0,
                        w.data(),
                        RowBytes(TensorType::kQ8_0, kN),
                        kN,
                        x.data(),
                        kN,
                        y.data(),
                        kRows,
                        num_tokens};
  for (auto _ : state) {
    MatMulRows(args, 0, kRows);
    benchmark::ClobberMemory();
  }
  state.SetLabel(SimdLevelName(level));
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(w.size()));
  state.counters["GFLOP/s"] =
      benchmark::Counter(2.0 * kN * kRows * num_tokens * state.iterations(),
                         benchmark::Counter::kIsRate, benchmark::Counter::OneK::kIs1000);
}
BENCHMARK(BM_MatMulHead)
    ->ArgsProduct({{1, 8, 64}, {0, 1, 2}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// A Q8_0 matrix of rows x kN converted to int8 panels, once per shape.
// kWide: 16-bit activations and an f16 weight scale per 32 columns (MatMulRowsI8F32).
template <int64_t kRows, int64_t kN, bool kWide = false>
const Int8Matrix& Int8Weights() {
  static const Int8Matrix w = [] {
    const std::vector<uint8_t> q = QuantizedMatrix(TensorType::kQ8_0, kRows, kN);
    Int8Matrix r;
    InitInt8Matrix(kRows, kN, &r, kWide);
    ConvertRowsToInt8(TensorType::kQ8_0, q.data(), RowBytes(TensorType::kQ8_0, kN), 0, kRows, &r);
    return r;
  }();
  return w;
}

// The int8 product of w with state.range(0) quantized tokens, timed; labelled with the
// kernel that ran (AMX for 16-token groups, VNNI, or the SIMD level).
void RunInt8Product(benchmark::State& state, const Int8Matrix& w) {
  const int64_t num_tokens = state.range(0);
  const std::vector<float> x = Activations(w.cols * num_tokens);
  std::vector<int8_t> xq(w.stride * num_tokens);
  const int64_t blocks = w.stride / kI8Block;
  std::vector<float> xs(num_tokens * blocks);
  for (int64_t t = 0; t < num_tokens; ++t) {
    QuantizeActivationI8(x.data() + t * w.cols, w.cols, xq.data() + t * w.stride, w.stride, xs.data() + t * blocks);
  }
  std::vector<float> y(static_cast<size_t>(w.rows * num_tokens));
  const I8MatMulArgs args{&w, xq.data(), w.stride, xs.data(), y.data(), w.rows, num_tokens};
  for (auto _ : state) {
    MatMulRowsI8(args, 0, w.rows);
    benchmark::ClobberMemory();
  }
  state.SetLabel(Int8UsesAmx() && num_tokens >= 16 ? "amx" : Int8UsesVnni() ? "vnni" : SimdLevelName(ActiveSimdLevel()));
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(w.q.size()));
  state.counters["GOP/s"] = benchmark::Counter(2.0 * w.cols * w.rows * num_tokens * state.iterations(),
                                               benchmark::Counter::kIsRate, benchmark::Counter::OneK::kIs1000);
}

void BM_MatMulHeadInt8(benchmark::State& state) { RunInt8Product(state, Int8Weights<262144, 640>()); }
BENCHMARK(BM_MatMulHeadInt8)->Arg(1)->Arg(8)->Arg(64)->Arg(512)->Unit(benchmark::kMillisecond)->UseRealTime();

// A Gemma 3 270M FFN-sized product (2,048 x 640) as int8 panels: the prompt-processing
// shape. With 2 threads each computes the whole product (do both cores keep their speed?).
void BM_MatMulFfnInt8(benchmark::State& state) { RunInt8Product(state, Int8Weights<2048, 640>()); }
BENCHMARK(BM_MatMulFfnInt8)->Arg(1)->Arg(16)->Arg(64)->Arg(512)->Threads(1)->Threads(2)->Unit(benchmark::kMillisecond)->UseRealTime();

// The same FFN shape with 16-bit activations (the products of norm outputs with
// --weights int8), the activations' quantization included.
void RunInt8I16Product(benchmark::State& state, const Int8Matrix& w) {
  const int64_t num_tokens = state.range(0);
  const std::vector<float> x = Activations(w.cols * num_tokens);
  std::vector<float> y(static_cast<size_t>(w.rows * num_tokens));
  I16Activations xq;
  for (auto _ : state) {
    PrepareActivationsI16(w, x.data(), w.cols, num_tokens, &xq);
    MatMulRowsI8F32(I8F32MatMulArgs{&w, &xq, y.data(), w.rows}, 0, w.rows);
    benchmark::ClobberMemory();
  }
  state.SetLabel(Int8UsesAmx() && num_tokens >= 16 ? "amx" : Int8UsesVnni() ? "vnni" : SimdLevelName(ActiveSimdLevel()));
  state.counters["GOP/s"] = benchmark::Counter(2.0 * w.cols * w.rows * num_tokens * state.iterations(),
                                               benchmark::Counter::kIsRate, benchmark::Counter::OneK::kIs1000);
  state.SetBytesProcessed(state.iterations() * w.bytes());
}
void BM_MatMulFfnInt8I16(benchmark::State& state) { RunInt8I16Product(state, Int8Weights<2048, 640, true>()); }
BENCHMARK(BM_MatMulFfnInt8I16)->Arg(1)->Arg(16)->Arg(64)->Arg(512)->Unit(benchmark::kMillisecond)->UseRealTime();

// Packed products at the file's bits (--weights packed) on shapes of the two models, the
// activations' quantization included: a SmolLM2 FFN matrix (1,536 x 576) in Q4_1, Gemma 3's
// FFN shape (2,048 x 640) in Q4_K, Q5_0 and Q6_K, and Gemma's head (262,144 x 640, Q8_0).
// Bytes are the packed matrix's (compare with ReadBandwidth).
template <TensorType kType, int64_t kRows, int64_t kN>
const PackedMatrix& PackedWeights() {
  static const PackedMatrix w = [] {
    const std::vector<uint8_t> q = QuantizedMatrix(kType, kRows, kN);
    PackedMatrix r;
    InitPackedMatrix(kType, kRows, kN, &r);
    PackRows(q.data(), RowBytes(kType, kN), 0, kRows, &r);
    return r;
  }();
  return w;
}

void RunPackedProduct(benchmark::State& state, const PackedMatrix& w) {
  const int64_t num_tokens = state.range(0);
  const std::vector<float> x = Activations(w.cols * num_tokens);
  std::vector<float> y(static_cast<size_t>(w.rows * num_tokens));
  PackedActivations xq;
  for (auto _ : state) {
    SizePackedActivations(w.cols, num_tokens, &xq);
    QuantizePackedActivations(x.data(), w.cols, 0, num_tokens, &xq);
    MatMulRowsPacked(PackedMatMulArgs{&w, &xq, y.data(), w.rows}, 0, w.rows);
    benchmark::ClobberMemory();
  }
  state.SetLabel(Int8UsesVnni() ? "vnni" : SimdLevelName(ActiveSimdLevel()));
  state.SetBytesProcessed(state.iterations() * w.bytes());
  state.counters["GOP/s"] = benchmark::Counter(2.0 * w.cols * w.rows * num_tokens * state.iterations(),
                                               benchmark::Counter::kIsRate, benchmark::Counter::OneK::kIs1000);
}

void BM_MatMulFfnPackedQ4_1(benchmark::State& state) {
  RunPackedProduct(state, PackedWeights<TensorType::kQ4_1, 1536, 576>());
}
void BM_MatMulFfnPackedQ4_K(benchmark::State& state) {
  RunPackedProduct(state, PackedWeights<TensorType::kQ4_K, 2048, 768>());
}
void BM_MatMulFfnPackedQ5_0(benchmark::State& state) {
  RunPackedProduct(state, PackedWeights<TensorType::kQ5_0, 2048, 640>());
}
void BM_MatMulFfnPackedQ6_K(benchmark::State& state) {
  RunPackedProduct(state, PackedWeights<TensorType::kQ6_K, 2048, 768>());
}
void BM_MatMulHeadPackedQ8_0(benchmark::State& state) {
  RunPackedProduct(state, PackedWeights<TensorType::kQ8_0, 262144, 640>());
}
BENCHMARK(BM_MatMulFfnPackedQ4_1)->Arg(1)->Arg(16)->Arg(512)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_MatMulFfnPackedQ4_K)->Arg(1)->Arg(16)->Arg(512)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_MatMulFfnPackedQ5_0)->Arg(1)->Arg(16)->Arg(512)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_MatMulFfnPackedQ6_K)->Arg(1)->Arg(16)->Arg(512)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_MatMulHeadPackedQ8_0)->Arg(1)->Arg(8)->Unit(benchmark::kMillisecond)->UseRealTime();

// A SmolLM2 FFN matrix (1,536 x 576) as int8 panels with 16-bit activations: the int8
// path's counterpart of BM_MatMulFfnPackedQ4_1.
void BM_MatMulFfnInt8I16Smol(benchmark::State& state) { RunInt8I16Product(state, Int8Weights<1536, 576, true>()); }
BENCHMARK(BM_MatMulFfnInt8I16Smol)->Arg(1)->Arg(16)->Arg(512)->Unit(benchmark::kMillisecond)->UseRealTime();

// Sums 1 GiB of int64 (each thread its own half, read-only after the first touch):
// bytes/s is the read bandwidth a memory-bound decode step can draw on.
void BM_ReadBandwidth(benchmark::State& state) {
  constexpr size_t kBytes = size_t{1} << 30;
  static std::vector<int64_t> buf(kBytes / sizeof(int64_t), 1);
  const size_t per = buf.size() / state.threads();
  const int64_t* p = buf.data() + per * state.thread_index();
  int64_t sum = 0;
  for (auto _ : state) {
    int64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (size_t i = 0; i + 4 <= per; i += 4) {
      s0 += p[i];
      s1 += p[i + 1];
      s2 += p[i + 2];
      s3 += p[i + 3];
    }
    sum += s0 + s1 + s2 + s3;
    benchmark::DoNotOptimize(sum);
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(per * sizeof(int64_t)));
}
BENCHMARK(BM_ReadBandwidth)->Threads(1)->Threads(2)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace parley

BENCHMARK_MAIN();
