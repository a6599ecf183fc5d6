#include "kernels/matmul_plan.h"

#include <algorithm>

#include "base/check.h"
#include "kernels/quant.h"

namespace parley {

void MatMulWorkspace::Reset(const float* x, int64_t cols, int64_t num_tokens, ThreadPool* pool) {
  x_ = x;
  cols_ = cols;
  n_ = num_tokens;
  pool_ = pool;
  q8_as_[0] = q8_as_[1] = TensorType::kF32;
  i8_ready_ = i16_ready_ = packed_ready_ = false;
}

const uint8_t* MatMulWorkspace::Q8(TensorType act) {
  for (int i = 0; i < 2; ++i) {
    if (q8_as_[i] == act) return xq_[i].data();
    if (q8_as_[i] != TensorType::kF32) continue;
    const size_t row_bytes = RowBytes(act, cols_);
    xq_[i].resize(row_bytes * n_);
    pool_->ParallelFor(n_, 1, [&](int64_t b, int64_t e) {
      for (int64_t t = b; t < e; ++t) {
        QuantizeActivationRow(act, x_ + t * cols_, xq_[i].data() + t * row_bytes, cols_);
      }
    });
    q8_as_[i] = act;
    return xq_[i].data();
  }
  PARLEY_CHECK(false) << "more than two activation formats in one MatMuls call";
  return nullptr;
}

const MatMulWorkspace::I8Input* MatMulWorkspace::I8() {
  const int64_t stride = I8Stride(cols_);
  if (!i8_ready_) {
    xi8_.resize(static_cast<size_t>(stride * n_));
    xi8_scale_.resize(static_cast<size_t>(stride / kI8Block * n_));
    pool_->ParallelFor(n_, 1, [&](int64_t b, int64_t e) {
      for (int64_t t = b; t < e; ++t) {
        QuantizeActivationI8(x_ + t * cols_, cols_, xi8_.data() + t * stride, stride,
                             xi8_scale_.data() + t * (stride / kI8Block));
      }
    });
    i8_ready_ = true;
  }
  i8_ = I8Input{xi8_.data(), stride, xi8_scale_.data()};
  return &i8_;
}

const I16Activations* MatMulWorkspace::I16(const Int8Matrix& w) {
  if (!i16_ready_) {
    SizeActivationsI16(w, n_, &xi16_);
    pool_->ParallelFor(n_, 1, [&](int64_t b, int64_t e) { QuantizeActivationsI16(w, x_, cols_, b, e, &xi16_); });
    i16_ready_ = true;
  }
  return &xi16_;
}

const PackedActivations* MatMulWorkspace::Packed() {
  if (!packed_ready_) {
    SizePackedActivations(cols_, n_, &xpacked_);
    pool_->ParallelFor(n_, 1, [&](int64_t b, int64_t e) { QuantizePackedActivations(x_, cols_, b, e, &xpacked_); });
    packed_ready_ = true;
  }
  return &xpacked_;
}

int64_t MatMulPlan::Grain(int64_t threads) const { return std::max<int64_t>(16, w_.rows / (threads * 8)); }

namespace {

// GGUF blocks against f32 activations (the exact path).
class BlockPlan : public MatMulPlan {
 public:
  using MatMulPlan::MatMulPlan;
  const void* Prepare(MatMulWorkspace* ws) const override { return ws->x(); }
  void Rows(const void* input, const MatMulWorkspace& ws, float* y, int64_t r0, int64_t r1) const override {
    MatMulRows(MatMulArgs{w_.type, w_.data, w_.row_bytes, w_.cols, static_cast<const float*>(input), w_.cols, y,
                          w_.rows, ws.num_tokens()},
               r0, r1);
  }
};

// GGUF blocks against activations quantized to ggml's Q8_0/Q8_1/Q8_K blocks.
class BlockQ8Plan : public MatMulPlan {
 public:
  BlockQ8Plan(const MatrixDesc& w, TensorType act) : MatMulPlan(w), act_(act) {}
  const void* Prepare(MatMulWorkspace* ws) const override { return ws->Q8(act_); }
  void Rows(const void* input, const MatMulWorkspace& ws, float* y, int64_t r0, int64_t r1) const override {
    MatMulRowsQ8(MatMulQ8Args{w_.type, w_.data, w_.row_bytes, w_.cols, input, RowBytes(act_, w_.cols), y, w_.rows,
                              ws.num_tokens()},
                 r0, r1);
  }

 private:
  TensorType act_;
};

// Rounds a grain up to whole pairs of int8 panels.
int64_t PanelPairs(int64_t grain) { return (grain + 2 * kI8Panel - 1) / (2 * kI8Panel) * (2 * kI8Panel); }

// int8 weights against int8 activations (W8A8).
class I8Plan : public MatMulPlan {
 public:
  using MatMulPlan::MatMulPlan;
  int64_t Grain(int64_t threads) const override { return PanelPairs(MatMulPlan::Grain(threads)); }
  const void* Prepare(MatMulWorkspace* ws) const override { return ws->I8(); }
  void Rows(const void* input, const MatMulWorkspace& ws, float* y, int64_t r0, int64_t r1) const override {
    const auto& in = *static_cast<const MatMulWorkspace::I8Input*>(input);
    MatMulRowsI8(I8MatMulArgs{w_.i8, in.x, in.stride, in.scales, y, w_.rows, ws.num_tokens()}, r0, r1);
  }
};

// int8 weights (f16 scales per 32 columns) against 16-bit activations: the norm-fed
// products and the int8 output head.
class I8F32Plan : public MatMulPlan {
 public:
  using MatMulPlan::MatMulPlan;
  int64_t Grain(int64_t threads) const override { return PanelPairs(MatMulPlan::Grain(threads)); }
  const void* Prepare(MatMulWorkspace* ws) const override { return ws->I16(*w_.i8); }
  void Rows(const void* input, const MatMulWorkspace&, float* y, int64_t r0, int64_t r1) const override {
    MatMulRowsI8F32(I8F32MatMulArgs{w_.i8, static_cast<const I16Activations*>(input), y, w_.rows}, r0, r1);
  }
};

// Packed panels at the file's bits against 16-bit activations (packed_matmul.h).
class PackedPlan : public MatMulPlan {
 public:
  using MatMulPlan::MatMulPlan;
  int64_t Grain(int64_t threads) const override { return PanelPairs(MatMulPlan::Grain(threads)); }
  const void* Prepare(MatMulWorkspace* ws) const override { return ws->Packed(); }
  void Rows(const void* input, const MatMulWorkspace&, float* y, int64_t r0, int64_t r1) const override {
    MatMulRowsPacked(PackedMatMulArgs{w_.packed, static_cast<const PackedActivations*>(input), y, w_.rows}, r0, r1);
  }
};

}  // namespace

std::unique_ptr<MatMulPlan> MakeMatMulPlan(const MatrixDesc& w, ActivationMode mode) {
  if (w.packed != nullptr) return std::make_unique<PackedPlan>(w);
  if (w.i8 != nullptr) {
    if (w.i8->f32_activations) return std::make_unique<I8F32Plan>(w);
    return std::make_unique<I8Plan>(w);
  }
  if (mode == ActivationMode::kQ8) {
    const TensorType act = ActivationTypeFor(w.type);
    if (act != TensorType::kF32) return std::make_unique<BlockQ8Plan>(w, act);
  }
  return std::make_unique<BlockPlan>(w);
}

void RunMatMuls(std::span<const MatMulJob> jobs, const float* x, int64_t num_tokens, MatMulWorkspace* ws,
                ThreadPool* pool) {
  struct Span {
    const MatMulJob* job;
    const void* input;
    int64_t first_chunk, rows_per_chunk;
  };
  PARLEY_CHECK(!jobs.empty() && jobs.size() <= 4) << "MatMuls takes 1 to 4 jobs";
  const int64_t cols = jobs[0].plan->cols();
  ws->Reset(x, cols, num_tokens, pool);
  const int64_t threads = pool->num_threads();
  Span spans[4];
  int64_t chunks = 0;
  for (size_t i = 0; i < jobs.size(); ++i) {
    const MatMulPlan& p = *jobs[i].plan;
    PARLEY_CHECK(p.cols() == cols) << "MatMuls jobs must share their input width";
    const int64_t grain = p.Grain(threads);
    spans[i] = Span{&jobs[i], p.Prepare(ws), chunks, grain};
    chunks += (p.rows() + grain - 1) / grain;
  }
  const int num_spans = static_cast<int>(jobs.size());
  pool->ParallelFor(chunks, 1, [&](int64_t begin, int64_t end) {
    for (int64_t c = begin; c < end; ++c) {
      int i = num_spans - 1;
      while (spans[i].first_chunk > c) --i;
      const Span& sp = spans[i];
      const MatMulPlan& p = *sp.job->plan;
      const int64_t r0 = (c - sp.first_chunk) * sp.rows_per_chunk;
      const int64_t r1 = std::min(p.rows(), r0 + sp.rows_per_chunk);
      p.Rows(sp.input, *ws, sp.job->y, r0, r1);
    }
  });
}

}  // namespace parley
