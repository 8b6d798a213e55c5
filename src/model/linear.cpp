#include "model/linear.h"

#include <ATen/ATen.h>

namespace prefer::model {

at::Tensor Linear::forward(const at::Tensor& x, const ForwardMode& mode) const {
  at::Tensor y = at::linear(x, weight, bias);
  if (lora && mode.adapters) {
    // Adapters may be kept in float32 under a bf16 base (as PEFT does): the input is cast to their
    // dtype and the update back to the layer's.
    at::Tensor h = x.to(lora->A.scalar_type());
    if (lora->dropout > 0 && mode.training) h = at::dropout(h, lora->dropout, true);
    y = y + at::linear(at::linear(h, lora->A), lora->B).mul(lora->scale).to(y.scalar_type());
  }
  return y;
}

}  // namespace prefer::model
