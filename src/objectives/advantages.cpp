#include "objectives/advantages.h"

#include <ATen/ATen.h>

#include <vector>

#include "objectives/loss_math.h"
#include "util/error.h"

namespace prefer::objectives {

at::Tensor masked_var(const at::Tensor& values, const at::Tensor& mask) {
  const int64_t n = mask.to(at::kBool).sum().item<int64_t>();
  if (n < 2)
    throw Error("whitening needs at least 2 unmasked entries, got " + std::to_string(n), {.field = "mask",
                .hint = "use a larger mini-batch"});
  at::Tensor centered = values - masked_mean(values, mask);
  return masked_mean(centered * centered, mask) * (static_cast<double>(n) / static_cast<double>(n - 1));
}

at::Tensor masked_whiten(const at::Tensor& values, const at::Tensor& mask, bool shift_mean) {
  at::Tensor mean = masked_mean(values, mask);
  at::Tensor whitened = (values - mean) * at::rsqrt(masked_var(values, mask) + 1e-8);
  return shift_mean ? whitened : whitened + mean;
}

Gae generalized_advantages(const at::Tensor& rewards, const at::Tensor& values, const at::Tensor& mask, double gamma,
                           double lam) {
  check_matrix(rewards, "rewards");
  check_matrix(values, "values", rewards.size(0), rewards.size(1));
  check_matrix(mask, "mask", rewards.size(0), rewards.size(1));
  at::Tensor keep = mask.to(at::kBool);
  at::Tensor zero = at::zeros({}, rewards.options());
  at::Tensor r = at::where(keep, rewards, zero);
  at::Tensor v = at::where(keep, values.to(rewards.scalar_type()), zero);

  const int64_t steps = r.size(1);
  std::vector<at::Tensor> reversed;
  reversed.reserve(steps);
  at::Tensor next_advantage = at::zeros({r.size(0)}, r.options());
  at::Tensor next_value = next_advantage;
  for (int64_t t = steps - 1; t >= 0; --t) {
    at::Tensor value_t = v.select(1, t);
    at::Tensor delta = r.select(1, t) + gamma * next_value - value_t;
    next_advantage = delta + (gamma * lam) * next_advantage;
    next_value = value_t;
    reversed.push_back(next_advantage);
  }
  std::vector<at::Tensor> ordered(reversed.rbegin(), reversed.rend());
  Gae out;
  // Zero outside the mask also for masks with holes, where the recursion would carry values through.
  out.advantages = ordered.empty() ? at::zeros_like(r) : at::where(keep, at::stack(ordered, 1), zero);
  out.returns = out.advantages + v;
  return out;
}

}  // namespace prefer::objectives
