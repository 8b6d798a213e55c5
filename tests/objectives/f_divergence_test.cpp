#include "objectives/f_divergence.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>

#include "fd_check.h"
#include "test_util.h"

namespace prefer::objectives {
namespace {

double score(double x, FDivergenceType type, double a = 0.5) {
  return f_divergence_score(at::scalar_tensor(x, at::kDouble), type, a).item<double>();
}

// f(x) at x = log 2 (ratio t = 2): reverse KL log 2; forward KL −1/2; JS log(2/3) (= logσ(log 2));
// α = ½: e^(−½·log 2)/(−½) = −2/√2 = −√2; α = 1 falls back to reverse KL.
TEST(FDivergence, ClosedForms) {
  const double x = std::log(2.0);
  EXPECT_DOUBLE_EQ(score(x, FDivergenceType::kReverseKl), x);
  EXPECT_DOUBLE_EQ(score(x, FDivergenceType::kForwardKl), -0.5);
  EXPECT_NEAR(score(x, FDivergenceType::kJsDivergence), std::log(2.0 / 3.0), 1e-15);
  EXPECT_NEAR(score(x, FDivergenceType::kAlphaDivergence), -std::sqrt(2.0), 1e-15);
  EXPECT_DOUBLE_EQ(score(x, FDivergenceType::kAlphaDivergence, 1.0), x);
}

// The alpha-divergence exponent is clamped at 80: with a = 3 and x = 100, (a − 1)x = 200 → e^80/2.
TEST(FDivergence, AlphaExponentIsClamped) {
  EXPECT_NEAR(score(100.0, FDivergenceType::kAlphaDivergence, 3.0) / (std::exp(80.0) / 2.0), 1.0, 1e-15);
}

TEST(FDivergence, NamesAreTrls) {
  for (const char* n : {"reverse_kl", "forward_kl", "js_divergence", "alpha_divergence"})
    EXPECT_EQ(to_string(parse_f_divergence_type(n)), n);
  EXPECT_ERROR_WITH(parse_f_divergence_type("kl"), "'f_divergence_type'", "unknown value 'kl'");
}

TEST(FDivergence, GradientMatchesFiniteDifferences) {
  for (auto type : {FDivergenceType::kReverseKl, FDivergenceType::kForwardKl, FDivergenceType::kJsDivergence,
                    FDivergenceType::kAlphaDivergence}) {
    auto loss = [type](const std::vector<at::Tensor>& v) { return f_divergence_score(v[0], type, 0.3).sum(); };
    test::expect_gradient_matches_fd(loss, {at::tensor({-3.0, -0.2, 0.0, 0.7, 4.0}, at::kDouble)}, {0}, to_string(type));
  }
}

}  // namespace
}  // namespace prefer::objectives
