#include "objectives/sft.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>

#include "fd_check.h"
#include "test_util.h"
#include "double_tensors.h"

namespace prefer::objectives {
namespace {

// Two sequences, three trained tokens: −(−1 − 2 − 0.5) = 3.5 over 3 tokens. The masked position holds
// −inf, which must not reach the sum or the gradient; d loss / d logp = −1/3 on trained tokens.
TEST(Sft, TokenMeanCarriedAsSumAndCount) {
  at::Tensor logp = d({-1.0, -2.0, -0.5, -INFINITY}, 2).requires_grad_(true);
  SftOutput out = sft_loss({logp, d({1, 1, 1, 0}, 2)}, SftConfig{});
  EXPECT_DOUBLE_EQ(out.loss_sum.item<double>(), 3.5);
  EXPECT_EQ(out.num_tokens.item<int64_t>(), 3);
  EXPECT_DOUBLE_EQ(out.loss.item<double>(), 3.5 / 3.0);
  out.loss.backward();
  EXPECT_TRUE(at::allclose(logp.grad(), d({-1.0 / 3, -1.0 / 3, -1.0 / 3, 0.0}, 2)));
}

// Accumulation stays exact: micro-batches of 3 and 1 tokens (sums 3.5 and 1) divided by the step's 4
// tokens add up to the token mean of the whole step, 4.5/4 (a mean of the two means would give 1.083).
TEST(Sft, StepLossOverAccumulatedMicroBatches) {
  SftOutput a = sft_loss({d({-1.0, -2.0, -0.5, 0.0}, 2), d({1, 1, 1, 0}, 2)}, SftConfig{});
  SftOutput b = sft_loss({d({-1.0, -7.0}, 2), d({1, 0}, 2)}, SftConfig{});
  const int64_t total = a.num_tokens.item<int64_t>() + b.num_tokens.item<int64_t>();
  EXPECT_DOUBLE_EQ((sft_step_loss(a, total) + sft_step_loss(b, total)).item<double>(), 4.5 / 4.0);
  EXPECT_ERROR_WITH(sft_step_loss(a, 0), "'total_tokens'");
}

// DFT scales each token by its own (detached) probability: a token with p = ½ costs ½·ln 2, and its
// gradient is −p/N = −½ (the probability is not differentiated).
TEST(Sft, DftScalesByDetachedProbability) {
  at::Tensor logp = d({-std::log(2.0)}, 1).requires_grad_(true);
  SftOutput out = sft_loss({logp, d({1}, 1)}, SftConfig{.loss_type = SftLossType::kDft});
  EXPECT_NEAR(out.loss.item<double>(), 0.5 * std::log(2.0), 1e-15);
  out.loss.backward();
  EXPECT_NEAR(logp.grad().item<double>(), -0.5, 1e-15);
  EXPECT_EQ(parse_sft_loss_type("chunked_nll"), SftLossType::kNll);
  EXPECT_ERROR_WITH(parse_sft_loss_type("dfft"), "'loss_type'", "did you mean 'dft'?");
}

TEST(Sft, LowPrecisionInputs) {
  at::Tensor logp = d({-1.0, -2.0}, 2).to(at::kBFloat16).requires_grad_(true);
  SftOutput out = sft_loss({logp, d({1, 1}, 2)}, SftConfig{});
  EXPECT_EQ(out.loss.scalar_type(), at::kFloat);
  EXPECT_DOUBLE_EQ(out.loss.item<double>(), 1.5);
  out.loss.backward();
  EXPECT_EQ(logp.grad().scalar_type(), at::kBFloat16);
}

TEST(Sft, GradientMatchesFiniteDifferences) {
  auto loss = [](const std::vector<at::Tensor>& v) { return sft_loss({v[0], v[1]}, SftConfig{}).loss; };
  test::expect_gradient_matches_fd(loss, {d({-1.0, -2.0, -0.5, -3.0}, 2), d({1, 1, 1, 0}, 2)}, {0}, "nll");
}

}  // namespace
}  // namespace prefer::objectives
