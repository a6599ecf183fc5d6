// Matrix-product plans: y = x W^T for one weight, whatever its storage format. A plan is
// built once per weight (MakeMatMulPlan) and knows how its kernel wants the input (f32,
// ggml Q8 blocks, int8 rows, 16-bit rows); the workspace converts a shared input into each
// form at most once per call. Callers (model/transformer) name weights and inputs only, so
// a new weight format is a new plan kind here, not an edit of the forward pass.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "base/thread_pool.h"
#include "kernels/int8_matmul.h"
#include "kernels/packed_matmul.h"
#include "kernels/tensor_type.h"

namespace parley {

// How matrix products see their input activations.
enum class ActivationMode {
  kF32,  // exact: f32 activations against dequantized weights
  kQ8,   // activations quantized per block to 8 bits (ggml's Q8_0/Q8_1/Q8_K, as llama.cpp
         // does) and integer block dot products: faster, and numerically llama.cpp's path
};

// A weight as the kernels see it: GGUF rows of `type`, and optionally int8 rows or packed
// panels at the file's bits that replace them for products (filled by model/weights).
struct MatrixDesc {
  TensorType type = TensorType::kF32;
  const uint8_t* data = nullptr;
  int64_t cols = 0;  // input features
  int64_t rows = 0;  // output features
  size_t row_bytes = 0;
  const Int8Matrix* i8 = nullptr;
  const PackedMatrix* packed = nullptr;
};

// One product's input, converted into the forms the plans of one call ask for.
class MatMulWorkspace {
 public:
  // Starts a call: forgets the forms made from the previous input.
  void Reset(const float* x, int64_t cols, int64_t num_tokens, ThreadPool* pool);
  const float* x() const { return x_; }
  int64_t cols() const { return cols_; }
  int64_t num_tokens() const { return n_; }

  // Each converts the input on first request since Reset and returns that form.
  const uint8_t* Q8(TensorType act_type);  // rows of ggml activation blocks (at most 2 types per call)
  struct I8Input {
    const int8_t* x;
    int64_t stride;
    const float* scales;
  };
  const I8Input* I8();                             // int8 rows with per-block scales
  const I16Activations* I16(const Int8Matrix& w);  // 16-bit rows for w (shared by the call)
  const PackedActivations* Packed();               // 16-bit rows in the packed products' order

 private:
  const float* x_ = nullptr;
  int64_t cols_ = 0, n_ = 0;
  ThreadPool* pool_ = nullptr;
  TensorType q8_as_[2] = {TensorType::kF32, TensorType::kF32};
  std::vector<uint8_t> xq_[2];
  bool i8_ready_ = false, i16_ready_ = false, packed_ready_ = false;
  std::vector<int8_t> xi8_;
  std::vector<float> xi8_scale_;
  I8Input i8_{};
  I16Activations xi16_;
  PackedActivations xpacked_;
};

// One weight's product. Prepare runs once per call before any Rows; Rows computes output
// rows [r0, r1) for every token and may run on several threads at once.
class MatMulPlan {
 public:
  explicit MatMulPlan(const MatrixDesc& w) : w_(w) {}
  virtual ~MatMulPlan() = default;
  const MatrixDesc& weight() const { return w_; }
  int64_t rows() const { return w_.rows; }
  int64_t cols() const { return w_.cols; }
  // Rows per parallel chunk.
  virtual int64_t Grain(int64_t threads) const;
  // Returns what Rows reads as its input (a pointer into x or the workspace).
  virtual const void* Prepare(MatMulWorkspace* ws) const = 0;
  virtual void Rows(const void* input, const MatMulWorkspace& ws, float* y, int64_t r0, int64_t r1) const = 0;

 protected:
  MatrixDesc w_;
};

// The plan for `w` under `mode`: packed panels when w.packed is set, int8 rows when w.i8 is
// set (int8 or 16-bit activations as w.i8 says), else GGUF blocks against f32 or (kQ8)
// ggml-quantized activations.
std::unique_ptr<MatMulPlan> MakeMatMulPlan(const MatrixDesc& w, ActivationMode mode);

struct MatMulJob {
  const MatMulPlan* plan;
  float* y;  // [num_tokens, plan->rows()]
};

// y = x W^T for up to four plans sharing the input x [num_tokens, cols], in one parallel
// section: the rows of all jobs form one index space split into chunks that never straddle
// two jobs.
void RunMatMuls(std::span<const MatMulJob> jobs, const float* x, int64_t num_tokens, MatMulWorkspace* ws,
                ThreadPool* pool);

}  // namespace parley
