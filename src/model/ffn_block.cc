// The feed-forward block of one layer: x += down(act(gate(h)) * up(h)) (Gemma: normed
// before the residual add), h being the attention block's norm_ffn(x).
#include <cstddef>

#include "kernels/ops.h"
#include "model/transformer.h"

namespace parley {

void Transformer::FfnBlock(int32_t l) {
  const ModelConfig& c = config_;
  const LayerWeights& w = weights_.layers[l];
  const LayerPlans& p = plans_[l];
  const int32_t n = static_cast<int32_t>(row_seq_.size());
  const int32_t H = c.hidden, F = c.ffn_hidden;
  MatMuls({{p.w_gate.get(), ffn_gate_.data()}, {p.w_up.get(), ffn_up_.data()}}, h_.data(), n);  // [n, F] x2
  PerToken(n, [&](int32_t t) {
    float* g = ffn_gate_.data() + static_cast<size_t>(t) * F;
    const float* u = ffn_up_.data() + static_cast<size_t>(t) * F;
    if (c.activation == Activation::kGeluTanh) {
      GeluTanhMul(g, u, F);
    } else {
      SiluMul(g, u, F);
    }
  });
  MatMul(*p.w_down, ffn_gate_.data(), n, h_.data());  // [n, H]
  PerToken(n, [&](int32_t t) {
    float* f = h_.data() + static_cast<size_t>(t) * H;
    if (c.post_norms) RmsNorm(f, w.post_ffn_norm_f.data(), f, H, c.rms_eps);
    AddF32(f, x_.data() + static_cast<size_t>(t) * H, H);
  });
}

}  // namespace parley
