// Central finite differences in float64, to check the autograd gradient of any objective.
#pragma once

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

namespace prefer::objectives::test {

// `loss` maps the inputs to a scalar. For every input listed in `wrt` (indices into `inputs`), compares
// d loss / d input from autograd with (loss(x + h) − loss(x − h)) / 2h, h = 1e-6·max(1, |x|), entry by
// entry. Truncation error is O(h²·f''') and rounding O(1e-16·|loss|/h), so 1e-6 relative with a 1e-9
// absolute floor leaves room for both. Inputs must be float64; they are not modified.
inline void expect_gradient_matches_fd(const std::function<at::Tensor(const std::vector<at::Tensor>&)>& loss,
                                       const std::vector<at::Tensor>& inputs, const std::vector<size_t>& wrt,
                                       const std::string& what, double rtol = 1e-6, double atol = 1e-9) {
  std::vector<at::Tensor> leaves;
  for (const auto& x : inputs) leaves.push_back(x.detach().clone().requires_grad_(x.is_floating_point()));
  at::Tensor value = loss(leaves);
  ASSERT_EQ(value.numel(), 1) << what;
  value.backward();
  for (size_t k : wrt) {
    at::Tensor analytic = leaves[k].grad().defined() ? leaves[k].grad() : at::zeros_like(leaves[k]);
    at::Tensor base = inputs[k].detach().to(at::kDouble).contiguous();
    auto flat = base.reshape({-1});
    for (int64_t i = 0; i < flat.numel(); ++i) {
      const double x = flat[i].item<double>();
      const double h = 1e-6 * std::max(1.0, std::abs(x));
      auto eval = [&](double xi) {
        std::vector<at::Tensor> moved;
        for (const auto& x : inputs) moved.push_back(x.detach().clone(at::MemoryFormat::Contiguous));
        moved[k].reshape({-1})[i] = xi;
        return loss(moved).item<double>();
      };
      const double numeric = (eval(x + h) - eval(x - h)) / (2.0 * h);
      const double auto_grad = analytic.reshape({-1})[i].item<double>();
      EXPECT_NEAR(auto_grad, numeric, rtol * std::abs(numeric) + atol)
          << what << ": input " << k << ", entry " << i;
    }
  }
}

}  // namespace prefer::objectives::test
