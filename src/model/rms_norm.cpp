#include "model/rms_norm.h"

#include <ATen/ATen.h>

#include "model/tensor_convert.h"

namespace prefer::model {

at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& weight, double eps, bool plus_one) {
  const at::ScalarType acc = accumulate_type(x.scalar_type());
  at::Tensor h = x.to(acc);
  at::Tensor variance = h.pow(2).mean(-1, /*keepdim=*/true);
  h = h * at::rsqrt(variance + eps);
  if (plus_one) return (h * (weight.to(acc) + 1.0)).to(x.scalar_type());
  return weight * h.to(x.scalar_type());
}

}  // namespace prefer::model
