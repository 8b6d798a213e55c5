#include "model/rms_norm.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/custom_function.h>

#include "model/fused_kernels.h"
#include "model/tensor_convert.h"

namespace prefer::model {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// r = 1 / sqrt(mean(x^2) + eps) [..., 1] and the normalised h = x r, both in the accumulate dtype.
std::pair<at::Tensor, at::Tensor> normalise(const at::Tensor& x, double eps) {
  at::Tensor h = x.to(accumulate_type(x.scalar_type()));
  at::Tensor r = at::rsqrt(h.pow(2).mean(-1, /*keepdim=*/true).add_(eps));
  return {r, h * r};
}

at::Tensor scale(const at::Tensor& h, const at::Tensor& weight, bool plus_one, at::ScalarType out) {
  if (plus_one) return (h * (weight.to(h.scalar_type()) + 1.0)).to(out);
  return weight * h.to(out);
}

// Autograd through the ops above keeps a float32 copy of x, the normalised value and its rounded copy
// for every norm (3 [tokens, hidden] tensors; 2 norms per layer). This keeps x and r only and
// recomputes h in backward.
struct RmsNormFunction : public torch::autograd::Function<RmsNormFunction> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, const at::Tensor& weight, double eps, bool plus_one) {
    auto [r, h] = normalise(x, eps);
    ctx->save_for_backward({x, weight, r});
    ctx->saved_data["plus_one"] = plus_one;
    return scale(h, weight, plus_one, x.scalar_type());
  }

  // y = w' (x r) with w' = w or 1 + w: g = dy w'; dx = r (g - h mean(g h)); dw = sum over tokens of dy h.
  // Computed in the accumulate dtype (autograd would form dy w' in the compute dtype first).
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    auto saved = ctx->get_saved_variables();
    const at::Tensor &x = saved[0], &weight = saved[1], &r = saved[2];
    const bool plus_one = ctx->saved_data["plus_one"].toBool();
    const at::ScalarType acc = r.scalar_type();
    at::Tensor dy = grads[0].to(acc);
    at::Tensor h = x.to(acc) * r;
    at::Tensor w = weight.to(acc);
    if (plus_one) w = w + 1.0;
    at::Tensor dx, dw;
    if (ctx->needs_input_grad(0)) {
      at::Tensor g = dy * w;
      dx = (g - h * (g * h).mean(-1, /*keepdim=*/true)).mul_(r).to(x.scalar_type());
    }
    if (ctx->needs_input_grad(1)) {
      // Llama's form multiplies w by the normalised value rounded to the compute dtype.
      at::Tensor hv = plus_one ? h : h.to(x.scalar_type()).to(acc);
      dw = (dy * hv).reshape({-1, h.size(-1)}).sum(0).to(weight.scalar_type());
    }
    return {dx, dw, at::Tensor(), at::Tensor()};
  }
};

// The fused kernel's version (bf16 output): keeps x and r [...] float32, recomputes h in backward.
struct FusedRmsNorm : public torch::autograd::Function<FusedRmsNorm> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, const at::Tensor& weight, double eps, bool plus_one) {
    auto [y, r] = fused::rms_norm(x, weight, eps, plus_one);
    ctx->save_for_backward({x, weight, r});
    ctx->saved_data["plus_one"] = plus_one;
    return y;
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    auto saved = ctx->get_saved_variables();
    auto [dx, dw] = fused::rms_norm_backward(grads[0], saved[0], saved[1], saved[2], ctx->saved_data["plus_one"].toBool(),
                                             ctx->needs_input_grad(0), ctx->needs_input_grad(1));
    return {dx, dw.defined() ? dw.to(saved[1].scalar_type()) : dw, at::Tensor(), at::Tensor()};
  }
};

}  // namespace

at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& weight, double eps, bool plus_one, at::ScalarType out) {
  const bool fusable = out == at::kBFloat16 && x.device().type() == at::kCPU && x.is_contiguous() &&
                       (x.scalar_type() == at::kFloat || x.scalar_type() == at::kBFloat16) && weight.dim() == 1;
  if (!fusable) return rms_norm(x, weight, eps, plus_one).to(out);
  if (at::GradMode::is_enabled() && (x.requires_grad() || weight.requires_grad())) return FusedRmsNorm::apply(x, weight, eps, plus_one);
  return fused::rms_norm(x, weight, eps, plus_one).first;
}

at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& weight, double eps, bool plus_one) {
  if (at::GradMode::is_enabled() && (x.requires_grad() || weight.requires_grad()))
    return RmsNormFunction::apply(x, weight, eps, plus_one);
  auto [r, h] = normalise(x, eps);
  return scale(h, weight, plus_one, x.scalar_type());
}

}  // namespace prefer::model
