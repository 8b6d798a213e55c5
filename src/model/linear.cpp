#include "model/linear.h"

#include <ATen/ATen.h>

namespace prefer::model {

at::Tensor Linear::forward(const at::Tensor& x, const ForwardMode& mode) const {
  at::Tensor y = quant ? quantized_linear(x, *quant, bias) : at::linear(x, weight, bias);
  if (!lora || !mode.adapters) return y;
  // The adapter computes in the layer's dtype: its float32 masters ([r, in], [out, r]) are cast, not the
  // [tokens, in] activations (as autocast runs PEFT under bf16; casting activations to float32 made
  // a bf16 adapter 9x slower). scale * (h A^T) B^T + y is one addmm: no separate scale and add passes.
  const at::ScalarType dt = x.scalar_type();
  at::Tensor h = lora->dropout > 0 && mode.training ? at::dropout(x, lora->dropout, true) : x;
  at::Tensor hA = at::linear(h, lora->A.to(dt));  // [..., r]
  const int64_t out = y.size(-1), r = hA.size(-1);
  at::Tensor sum = at::addmm(y.reshape({-1, out}), hA.reshape({-1, r}), lora->B.to(dt).t(), /*beta=*/1, /*alpha=*/lora->scale);
  return sum.view(y.sizes());
}

}  // namespace prefer::model
