#include "objectives/advantages.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>

#include "fd_check.h"
#include "golden.h"
#include "test_util.h"
#include "double_tensors.h"

namespace prefer::objectives {
namespace {

using test::expect_close;

// GAE by hand, γ = 0.9, λ = 0.5 (γλ = 0.45).
// Row 0, 3 steps, r = (0, 0, 1), V = (0.5, 0.6, 0.7):
//   δ2 = 1 − 0.7 = 0.3;  δ1 = 0 + 0.9·0.7 − 0.6 = 0.03;  δ0 = 0 + 0.9·0.6 − 0.5 = 0.04
//   A2 = 0.3;  A1 = 0.03 + 0.45·0.3 = 0.165;  A0 = 0.04 + 0.45·0.165 = 0.11425
//   returns = A + V = (0.61425, 0.765, 1.0)
// Row 1, 2 steps (third is padding holding junk), r = (1, 2), V = (1, 1):
//   δ1 = 2 − 1 = 1 (V after the end is 0);  δ0 = 1 + 0.9·1 − 1 = 0.9;  A1 = 1;  A0 = 0.9 + 0.45 = 1.35
TEST(Advantages, GaeOnAThreeStepTrajectory) {
  at::Tensor rewards = d({0, 0, 1, 1, 2, 50}, 3), values = d({0.5, 0.6, 0.7, 1, 1, 80}, 3);
  at::Tensor mask = d({1, 1, 1, 1, 1, 0}, 3);
  Gae g = generalized_advantages(rewards, values, mask, 0.9, 0.5);
  expect_close(g.advantages, d({0.11425, 0.165, 0.3, 1.35, 1.0, 0.0}, 3), "advantages", 1e-14);
  expect_close(g.returns, d({0.61425, 0.765, 1.0, 2.35, 2.0, 0.0}, 3), "returns", 1e-14);
}

// γ = λ = 1 and V = 0: the advantage is the reward-to-go, Σ_{k >= t} r_k.
TEST(Advantages, RewardToGoWithoutDiscount) {
  Gae g = generalized_advantages(d({1, 2, 3, 4}, 4), at::zeros({1, 4}, at::kDouble), at::ones({1, 4}), 1.0, 1.0);
  expect_close(g.advantages, d({10, 9, 7, 4}, 4), "reward to go", 1e-15);
}

// (1, 2, 3, 4) with mask (1, 1, 1, 1): mean 2.5, unbiased variance 5/3; the masked 100 is ignored.
TEST(Advantages, MaskedWhiten) {
  at::Tensor x = d({1, 2, 3, 4, 100}, 5), mask = d({1, 1, 1, 1, 0}, 5);
  EXPECT_NEAR(masked_var(x, mask).item<double>(), 5.0 / 3.0, 1e-15);
  const double s = 1.0 / std::sqrt(5.0 / 3.0 + 1e-8);
  at::Tensor w = masked_whiten(x, mask).slice(1, 0, 4);
  expect_close(w, d({-1.5 * s, -0.5 * s, 0.5 * s, 1.5 * s}, 4), "shifted", 1e-14);
  at::Tensor kept = masked_whiten(x, mask, /*shift_mean=*/false).slice(1, 0, 4);
  expect_close(kept, d({2.5 - 1.5 * s, 2.5 - 0.5 * s, 2.5 + 0.5 * s, 2.5 + 1.5 * s}, 4), "mean kept", 1e-14);
  EXPECT_ERROR_WITH(masked_var(x, d({1, 0, 0, 0, 0}, 5)), "at least 2");
}

TEST(Advantages, GradientMatchesFiniteDifferences) {
  at::Tensor mask = d({1, 1, 1, 1, 1, 0}, 3);
  at::Tensor weights = d({0.3, -1.2, 0.7, 2.0, -0.4, 5.0}, 3);
  auto gae_loss = [&](const std::vector<at::Tensor>& v) {
    Gae g = generalized_advantages(v[0], v[1], mask, 0.9, 0.5);
    return (g.advantages * weights).sum() + (g.returns * weights * weights).sum();
  };
  std::vector<at::Tensor> x = {d({0.1, -0.3, 1.0, 1.0, 2.0, 0.5}, 3), d({0.5, 0.6, 0.7, 1.0, -1.0, 0.2}, 3)};
  test::expect_gradient_matches_fd(gae_loss, x, {0, 1}, "gae");
  auto whiten_loss = [&](const std::vector<at::Tensor>& v) { return (masked_whiten(v[0], mask) * weights).sum(); };
  test::expect_gradient_matches_fd(whiten_loss, {x[0]}, {0}, "whiten");
}

}  // namespace
}  // namespace prefer::objectives
