#include "objectives/kl_penalty.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>

#include "fd_check.h"
#include "test_util.h"

namespace prefer::objectives {
namespace {

// logprob −1, ref −2: log r = ref − logprob = −1, so k1 = 1, k2 = ½·1 = 0.5, k3 = (e^(−1) − 1) + 1 = e^(−1).
// Equal log-probs give 0 for all three.
TEST(KlPenalty, EstimatorsClosedForm) {
  at::Tensor lp = at::tensor({-1.0, -3.0}, at::kDouble), ref = at::tensor({-2.0, -3.0}, at::kDouble);
  at::Tensor k1 = kl_penalty(lp, ref, KlEstimator::kK1);
  at::Tensor k2 = kl_penalty(lp, ref, KlEstimator::kK2);
  at::Tensor k3 = kl_penalty(lp, ref, KlEstimator::kK3);
  EXPECT_DOUBLE_EQ(k1[0].item<double>(), 1.0);
  EXPECT_DOUBLE_EQ(k2[0].item<double>(), 0.5);
  EXPECT_NEAR(k3[0].item<double>(), std::exp(-1.0), 1e-16);
  for (const auto& k : {k1, k2, k3}) EXPECT_EQ(k[1].item<double>(), 0.0);
}

// k3 is unbiased: under π = (½, ½) and π_ref = (¼, ¾), E_π[k3] = KL(π ‖ π_ref) = ½·ln 2 + ½·ln(2/3).
TEST(KlPenalty, K3IsUnbiased) {
  at::Tensor lp = at::log(at::tensor({0.5, 0.5}, at::kDouble)), ref = at::log(at::tensor({0.25, 0.75}, at::kDouble));
  double expected = 0.5 * std::log(2.0) + 0.5 * std::log(2.0 / 3.0);
  EXPECT_NEAR((kl_penalty(lp, ref, KlEstimator::kK3) * 0.5).sum().item<double>(), expected, 1e-15);
  EXPECT_NEAR((kl_penalty(lp, ref, KlEstimator::kK1) * 0.5).sum().item<double>(), expected, 1e-15);
}

// Ziegler et al.: e = clip(KL/target − 1, ±0.2), β ← β(1 + e·n/horizon). target 6, horizon 10000,
// n = 256: KL 12 → e = +0.2, β = 0.2·1.00512; KL 3 → e = −0.2, ·0.99488; KL 6.6 → e = 0.1, ·1.00256.
TEST(KlPenalty, AdaptiveController) {
  AdaptiveKlController up{0.2, 6.0, 10000}, down{0.2, 6.0, 10000}, small{0.2, 6.0, 10000};
  EXPECT_NEAR(up.update(12.0, 256), 0.2 * 1.00512, 1e-15);
  EXPECT_NEAR(down.update(3.0, 256), 0.2 * 0.99488, 1e-15);
  EXPECT_NEAR(small.update(6.6, 256), 0.2 * 1.00256, 1e-15);
  EXPECT_NEAR(small.value, 0.2 * 1.00256, 1e-15);
}

TEST(KlPenalty, Names) {
  for (const char* n : {"k1", "k2", "k3"}) EXPECT_EQ(to_string(parse_kl_estimator(n)), n);
  EXPECT_ERROR_WITH(parse_kl_estimator("k4"), "'kl_estimator'", "unknown value 'k4'");
}

TEST(KlPenalty, GradientMatchesFiniteDifferences) {
  for (auto e : {KlEstimator::kK1, KlEstimator::kK2, KlEstimator::kK3}) {
    auto loss = [e](const std::vector<at::Tensor>& v) { return kl_penalty(v[0], v[1], e).sum(); };
    test::expect_gradient_matches_fd(
        loss, {at::tensor({-1.0, -0.2, -3.5}, at::kDouble), at::tensor({-2.0, -0.25, -1.0}, at::kDouble)}, {0, 1},
        to_string(e));
  }
}

}  // namespace
}  // namespace prefer::objectives
