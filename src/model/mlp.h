// The gated MLP of every supported family: down(act(gate(h)) * up(h)).
#pragma once

#include <ATen/core/Tensor.h>

#include "io/hf_config.h"
#include "model/linear.h"

namespace prefer::model {

// SiLU; GELU with the tanh approximation 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) (Gemma); exact
// (erf) GELU.
at::Tensor apply_activation(const at::Tensor& x, io::Activation act);

// act(g) * u, g and u [..., inter]. Differentiable; keeps g and u for backward, not act(g).
at::Tensor gated_activation(const at::Tensor& g, const at::Tensor& u, io::Activation act);

struct Mlp {
  Linear gate, up, down;  // gate/up [inter, hidden], down [hidden, inter]

  // h [B, T, hidden] -> [B, T, hidden]
  at::Tensor forward(const at::Tensor& h, io::Activation act, const ForwardMode& mode) const;
};

}  // namespace prefer::model
