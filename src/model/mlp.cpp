#include "model/mlp.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/custom_function.h>

#include "model/fused_kernels.h"

namespace prefer::model {

at::Tensor apply_activation(const at::Tensor& x, io::Activation act) {
  switch (act) {
    case io::Activation::SiLU: return at::silu(x);
    case io::Activation::GeluTanh: return at::gelu(x, "tanh");
    case io::Activation::Gelu: return at::gelu(x, "none");
  }
  return x;
}

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// SiLU on contiguous bf16 CPU tensors: one pass (fused_kernels.h) instead of three bf16 ATen ops.
bool fused_silu(const at::Tensor& g, const at::Tensor& u, int64_t act) {
  return static_cast<io::Activation>(act) == io::Activation::SiLU && fused::eligible({g, u}) && g.sizes() == u.sizes();
}

// act(g) * u. Autograd through the two ops keeps g, act(g) and u ([tokens, inter] each, the largest
// activations of a layer); this keeps g and u and recomputes act(g) in backward (one elementwise pass).
struct GatedActivation : public torch::autograd::Function<GatedActivation> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& g, const at::Tensor& u, int64_t act) {
    ctx->save_for_backward({g, u});
    ctx->saved_data["act"] = act;
    if (fused_silu(g, u, act)) return fused::silu_mul(g, u);
    return apply_activation(g, static_cast<io::Activation>(act)) * u;
  }

  // du = dy act(g); dg = act'(g) (dy u), act' through autograd of the recomputed activation.
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    auto saved = ctx->get_saved_variables();
    const at::Tensor &g = saved[0], &u = saved[1];
    const auto act = static_cast<io::Activation>(ctx->saved_data["act"].toInt());
    const at::Tensor& dy = grads[0];
    if (fused_silu(g, u, static_cast<int64_t>(act))) {
      auto [dg, du] = fused::silu_mul_backward(dy, g, u);
      return {ctx->needs_input_grad(0) ? dg : at::Tensor(), ctx->needs_input_grad(1) ? du : at::Tensor(), at::Tensor()};
    }
    at::AutoGradMode on(true);
    at::Tensor gg = g.detach().requires_grad_(true);
    at::Tensor a = apply_activation(gg, act);
    at::Tensor du = ctx->needs_input_grad(1) ? dy * a.detach() : at::Tensor();
    at::Tensor dg = ctx->needs_input_grad(0) ? torch::autograd::grad({a}, {gg}, {dy * u})[0] : at::Tensor();
    return {dg, du, at::Tensor()};
  }
};

}  // namespace

at::Tensor gated_activation(const at::Tensor& g, const at::Tensor& u, io::Activation act) {
  if (at::GradMode::is_enabled() && (g.requires_grad() || u.requires_grad()))
    return GatedActivation::apply(g, u, static_cast<int64_t>(act));
  if (fused_silu(g, u, static_cast<int64_t>(act))) return fused::silu_mul(g, u);
  return apply_activation(g, act) * u;
}

at::Tensor Mlp::forward(const at::Tensor& h, io::Activation act, const ForwardMode& mode) const {
  return down.forward(gated_activation(gate.forward(h, mode), up.forward(h, mode), act), mode);
}

}  // namespace prefer::model
