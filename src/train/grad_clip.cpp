#include "train/grad_clip.h"

#include <ATen/ATen.h>

namespace prefer::train {

namespace {

std::vector<at::Tensor> defined_grads(const std::vector<at::Tensor>& params) {
  std::vector<at::Tensor> grads;
  for (const at::Tensor& p : params)
    if (p.defined() && p.grad().defined()) grads.push_back(p.grad());
  return grads;
}

at::ScalarType norm_dtype(const std::vector<at::Tensor>& grads) {
  for (const at::Tensor& g : grads)
    if (g.scalar_type() == at::kDouble) return at::kDouble;
  return at::kFloat;
}

}  // namespace

at::Tensor grad_global_norm(const std::vector<at::Tensor>& params) {
  at::NoGradGuard no_grad;
  const std::vector<at::Tensor> grads = defined_grads(params);
  if (grads.empty()) return at::zeros({}, at::kFloat);
  const at::ScalarType dtype = norm_dtype(grads);
  const at::Device device = grads.front().device();
  // Per-tensor norms first (as torch), accumulated in `dtype` without a converted copy of the gradient,
  // then the norm of those: [n] -> [].
  std::vector<at::Tensor> norms;
  norms.reserve(grads.size());
  for (const at::Tensor& g : grads)
    norms.push_back(at::linalg_vector_norm(g, 2, c10::nullopt, /*keepdim=*/false, dtype).to(device));
  return at::linalg_vector_norm(at::stack(norms), 2);
}

at::Tensor clip_grad_norm(const std::vector<at::Tensor>& params, double max_norm) {
  at::NoGradGuard no_grad;
  at::Tensor total = grad_global_norm(params);
  if (max_norm <= 0) return total;
  // clip_coef = max_norm / (total + 1e-6), clamped to at most 1. It stays a tensor and every gradient is
  // multiplied (by exactly 1.0 when nothing is clipped), so nothing here waits for the device.
  const at::Tensor coef = at::clamp_max(max_norm / (total + 1e-6), 1.0);
  for (const at::Tensor& p : params)
    if (p.defined() && p.grad().defined()) p.grad().mul_(coef.to(p.grad().device()));
  return total;
}

}  // namespace prefer::train
