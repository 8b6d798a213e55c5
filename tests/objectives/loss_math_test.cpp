#include "objectives/loss_math.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "fd_check.h"
#include "objectives/metrics.h"
#include "test_util.h"

namespace prefer::objectives {
namespace {

TEST(LossMath, ComputeDtypeIsFloat32OrBetter) {
  at::Tensor half = at::zeros({2}, at::kHalf), bf16 = at::zeros({2}, at::kBFloat16), f64 = at::zeros({2}, at::kDouble);
  EXPECT_EQ(compute_dtype({half, bf16}), at::kFloat);
  EXPECT_EQ(compute_dtype({bf16, f64, at::Tensor()}), at::kDouble);
  EXPECT_EQ(to_compute(bf16, at::kFloat).scalar_type(), at::kFloat);
  EXPECT_FALSE(to_compute(at::Tensor(), at::kFloat).defined());
}

// ε = 0 is −logσ(z); at z = 0 any ε gives ln 2; ε = ½ is symmetric in z.
TEST(LossMath, SmoothedLogisticLoss) {
  at::Tensor z = at::tensor({0.0, 2.0, -2.0}, at::kDouble);
  at::Tensor plain = smoothed_logistic_loss(z, 0.0);
  EXPECT_NEAR(plain[1].item<double>(), std::log1p(std::exp(-2.0)), 1e-15);
  EXPECT_NEAR(smoothed_logistic_loss(z, 0.3)[0].item<double>(), std::log(2.0), 1e-15);
  at::Tensor half = smoothed_logistic_loss(z, 0.5);
  EXPECT_NEAR(half[1].item<double>(), half[2].item<double>(), 1e-15);
}

// Padding holding inf or NaN does not leak into the mean or its gradient.
TEST(LossMath, MaskedMeanIgnoresPadding) {
  at::Tensor v = at::tensor({1.0, 3.0, std::numeric_limits<double>::infinity(), std::nan("")}, at::kDouble)
                     .requires_grad_(true);
  at::Tensor mask = at::tensor({1, 1, 0, 0}, at::kInt);
  at::Tensor m = masked_mean(v, mask);
  EXPECT_DOUBLE_EQ(m.item<double>(), 2.0);
  m.backward();
  EXPECT_TRUE(at::equal(v.grad(), at::tensor({0.5, 0.5, 0.0, 0.0}, at::kDouble)));
}

TEST(LossMath, ChecksNameTheInput) {
  EXPECT_ERROR_WITH(check_vector(at::Tensor(), "policy_chosen_logps"), "'policy_chosen_logps'", "missing");
  EXPECT_ERROR_WITH(check_vector(at::zeros({2, 2}), "x"), "'x'", "1-D", "[2, 2]");
  EXPECT_ERROR_WITH(check_vector(at::zeros({3}), "x", 2), "expected 2 entries");
  EXPECT_ERROR_WITH(check_scalar(at::zeros({2}), "nll_loss"), "'nll_loss'", "scalar");
  EXPECT_ERROR_WITH(check_matrix(at::zeros({2, 3}), "mask", 2, 4), "'mask'", "[2, 4]");
  EXPECT_ERROR_WITH(require_input(at::Tensor(), "kl", "needs it"), "'kl'", "needs it");
}

TEST(LossMath, MetricValue) {
  Metrics m{{"rewards/chosen", at::scalar_tensor(0.25, at::kDouble)}};
  EXPECT_EQ(metric_value(m, "rewards/chosen"), 0.25);
  EXPECT_ERROR_WITH(metric_value(m, "rewards/rejected"), "'rewards/rejected'");
}

TEST(LossMath, GradientMatchesFiniteDifferences) {
  auto loss = [](const std::vector<at::Tensor>& v) { return smoothed_logistic_loss(v[0], 0.2).sum(); };
  test::expect_gradient_matches_fd(loss, {at::tensor({-30.0, -1.0, 0.0, 0.5, 25.0}, at::kDouble)}, {0}, "smoothed");
}

}  // namespace
}  // namespace prefer::objectives
