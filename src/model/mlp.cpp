#include "model/mlp.h"

#include <ATen/ATen.h>

namespace prefer::model {

at::Tensor apply_activation(const at::Tensor& x, io::Activation act) {
  switch (act) {
    case io::Activation::SiLU: return at::silu(x);
    case io::Activation::GeluTanh: return at::gelu(x, "tanh");
    case io::Activation::Gelu: return at::gelu(x, "none");
  }
  return x;
}

at::Tensor Mlp::forward(const at::Tensor& h, io::Activation act, const ForwardMode& mode) const {
  return down.forward(apply_activation(gate.forward(h, mode), act) * up.forward(h, mode), mode);
}

}  // namespace prefer::model
