#include "model/rope.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/custom_function.h>

#include <cmath>

#include "model/fused_kernels.h"

namespace prefer::model {

at::Tensor rope_inv_freq(const io::ModelConfig& c) {
  const int64_t dim = c.head_dim;
  // transformers: 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.int64).float() / dim)), float32.
  at::Tensor exponent = at::arange(0, dim, 2, at::TensorOptions().dtype(at::kLong)).to(at::kFloat) / static_cast<double>(dim);
  // Python's `scalar / tensor` is `tensor.reciprocal() * scalar`; written the same way for equal rounding.
  at::Tensor inv_freq = at::pow(c.rope_theta, exponent).reciprocal();
  const io::RopeScaling& s = c.rope_scaling;
  if (s.type == "linear") {
    inv_freq = inv_freq / s.factor;
  } else if (s.type == "llama3") {
    // transformers' _compute_llama3_parameters, float32 tensors throughout.
    const double old_len = static_cast<double>(s.original_max_position_embeddings);
    const double low_freq_wavelen = old_len / s.low_freq_factor;
    const double high_freq_wavelen = old_len / s.high_freq_factor;
    at::Tensor wavelen = inv_freq.reciprocal() * (2.0 * M_PI);
    at::Tensor scaled = at::where(wavelen > low_freq_wavelen, inv_freq / s.factor, inv_freq);
    at::Tensor smooth = (wavelen.reciprocal() * old_len - s.low_freq_factor) / (s.high_freq_factor - s.low_freq_factor);
    at::Tensor smoothed = (1 - smooth) * scaled / s.factor + smooth * scaled;
    at::Tensor medium = at::logical_not(wavelen < high_freq_wavelen).logical_and(at::logical_not(wavelen > low_freq_wavelen));
    inv_freq = at::where(medium, smoothed, scaled);
  }
  return inv_freq;
}

RopeTables rope_tables(const at::Tensor& inv_freq, const at::Tensor& positions, at::ScalarType dtype) {
  // angles [B, T, D/2] in float64, then duplicated to [B, T, D] as HF's cat((freqs, freqs), -1).
  at::Tensor freq = inv_freq.to(positions.device(), at::kDouble);
  at::Tensor angles = positions.to(at::kDouble).unsqueeze(-1) * freq;
  at::Tensor emb = at::cat({angles, angles}, -1);
  return {emb.cos().to(dtype), emb.sin().to(dtype)};
}

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// bf16 x: the rotation in float32 rounded once (fused_kernels.h); backward rotates the gradient back.
struct FusedRope : public torch::autograd::Function<FusedRope> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin) {
    ctx->save_for_backward({cos, sin});
    return fused::rope(x, cos, sin, /*inverse=*/false);
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    auto saved = ctx->get_saved_variables();
    return {fused::rope(grads[0].to(at::kBFloat16).contiguous(), saved[0], saved[1], /*inverse=*/true), at::Tensor(), at::Tensor()};
  }
};

}  // namespace

at::Tensor apply_rope(const at::Tensor& x, const RopeTables& t) {
  if (fused::eligible({x}) && x.dim() == 4 && t.cos.dim() == 3 && t.cos.size(0) == x.size(0) && t.cos.size(1) == x.size(1)) {
    if (at::GradMode::is_enabled() && x.requires_grad()) return FusedRope::apply(x, t.cos, t.sin);
    return fused::rope(x, t.cos, t.sin, /*inverse=*/false);
  }
  // x [B, T, heads, D]; tables broadcast over heads.
  const int64_t half = x.size(-1) / 2;
  at::Tensor x1 = x.narrow(-1, 0, half);
  at::Tensor x2 = x.narrow(-1, half, half);
  at::Tensor rotated = at::cat({-x2, x1}, -1);
  return x * t.cos.unsqueeze(2) + rotated * t.sin.unsqueeze(2);
}

}  // namespace prefer::model
