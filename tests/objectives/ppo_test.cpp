#include "objectives/ppo.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "fd_check.h"
#include "golden.h"
#include "test_util.h"
#include "double_tensors.h"

namespace prefer::objectives {
namespace {

using test::expect_close;

// ---- policy and value losses ----------------------------------------------------------------------------

// Clipping on both sides of the ratio, ε = 0.2, one token each (B = 1, T = 4):
//   A = +1, ρ = 1.5: max(−1.5, −1.2) = −1.2  clipped, gradient 0
//   A = +1, ρ = 0.5: max(−0.5, −0.8) = −0.5  unclipped, d/dlogp = −A·ρ = −0.5
//   A = −1, ρ = 1.5: max( 1.5,  1.2) =  1.5  unclipped (pessimistic), d/dlogp = 1.5
//   A = −1, ρ = 0.5: max( 0.5,  0.8) =  0.8  clipped, gradient 0
// policy loss = (−1.2 − 0.5 + 1.5 + 0.8)/4 = 0.15; clipfrac = 2/4; gradients /4.
// approxkl = ½·mean(logρ²) = ½·(2·ln²1.5 + 2·ln²0.5)/4; val/ratio = mean ρ = 1.
// Value loss, ε_v = 0.2, on tokens 0 and 1 only (value_mask):
//   V = 1.0, V_old = 0.5, R = 2: clip → 0.7; max(1.0², 1.3²) = 1.69, clipped (gradient 0)
//   V = 0.4, V_old = 0.5, R = 0: inside the clip; max(0.16, 0.16) = 0.16, d/dV = 2·0.4 = 0.8
// value loss = ½·(1.69 + 0.16)/2 = 0.4625, d/dV = ½·(0, 0.8)/2 = (0, 0.2); val/clipfrac = ½.
TEST(Ppo, ClippedLossesByHand) {
  at::Tensor old = d({-1.0, -1.0, -1.0, -1.0}, 4);
  at::Tensor logp = (old + d({std::log(1.5), std::log(0.5), std::log(1.5), std::log(0.5)}, 4)).requires_grad_(true);
  at::Tensor values = d({1.0, 0.4, 9.0, 9.0}, 4).requires_grad_(true);
  PpoLossInputs in{.logprobs = logp,
                   .old_logprobs = old,
                   .advantages = d({1, 1, -1, -1}, 4),
                   .values = values,
                   .old_values = d({0.5, 0.5, 0, 0}, 4),
                   .returns = d({2.0, 0.0, 0, 0}, 4),
                   .response_mask = d({1, 1, 1, 1}, 4),
                   .value_mask = d({1, 1, 0, 0}, 4)};
  PpoConfig cfg{.vf_coef = 0.1};
  PpoLossOutput out = ppo_loss(in, cfg);
  EXPECT_NEAR(out.policy_loss.item<double>(), 0.15, 1e-15);
  EXPECT_NEAR(out.value_loss.item<double>(), 0.4625, 1e-15);
  EXPECT_NEAR(out.loss.item<double>(), 0.15 + 0.1 * 0.4625, 1e-15);
  EXPECT_NEAR(metric_value(out.metrics, "policy/clipfrac"), 0.5, 1e-15);
  EXPECT_NEAR(metric_value(out.metrics, "val/clipfrac"), 0.5, 1e-15);
  EXPECT_NEAR(metric_value(out.metrics, "val/ratio"), 1.0, 1e-15);
  const double l15 = std::log(1.5), l05 = std::log(0.5);
  EXPECT_NEAR(metric_value(out.metrics, "policy/approxkl"), 0.5 * (2 * l15 * l15 + 2 * l05 * l05) / 4, 1e-15);
  EXPECT_NEAR(metric_value(out.metrics, "loss/policy"), 0.15, 1e-15);
  out.loss.backward();
  expect_close(logp.grad(), d({0.0, -0.125, 0.375, 0.0}, 4), "d/dlogp", 1e-14);
  expect_close(values.grad(), d({0.0, 0.1 * 0.2, 0.0, 0.0}, 4), "d/dV", 1e-14);
}

// Padding may hold anything (TRL stores 1.0; a scorer may leave −inf): nothing of it reaches the losses,
// the metrics or the gradient.
TEST(Ppo, PaddingNeverLeaks) {
  const double inf = std::numeric_limits<double>::infinity();
  at::Tensor logp = d({-1.0, inf}, 2).requires_grad_(true);
  at::Tensor values = d({0.3, -inf}, 2).requires_grad_(true);
  PpoLossInputs in{logp, d({-1.2, -inf}, 2), d({0.5, NAN}, 2), values, d({0.2, inf}, 2), d({1.0, NAN}, 2),
                   d({1, 0}, 2)};
  PpoLossOutput out = ppo_loss(in, PpoConfig{});
  out.loss.backward();
  EXPECT_TRUE(std::isfinite(out.loss.item<double>()));
  EXPECT_TRUE(at::isfinite(logp.grad()).all().item<bool>());
  EXPECT_TRUE(at::isfinite(values.grad()).all().item<bool>());
  EXPECT_EQ(logp.grad()[0][1].item<double>(), 0.0);
}

// bfloat16 inputs are computed in float32; the gradient returns in bfloat16.
TEST(Ppo, LowPrecisionInputs) {
  at::Tensor logp = d({-1.0, -0.5}, 2).to(at::kBFloat16).requires_grad_(true);
  at::Tensor values = d({0.25, 0.5}, 2).to(at::kBFloat16).requires_grad_(true);
  auto f = [](std::vector<double> v) { return d(v, 2).to(at::kFloat); };
  PpoLossInputs in{logp, d({-1.0, -0.75}, 2).to(at::kBFloat16), f({1.0, -1.0}), values, f({0.25, 0.5}), f({1.0, 0.0}),
                   d({1, 1}, 2)};
  PpoLossOutput out = ppo_loss(in, PpoConfig{});
  EXPECT_EQ(out.loss.scalar_type(), at::kFloat);
  out.loss.backward();
  EXPECT_EQ(logp.grad().scalar_type(), at::kBFloat16);
  EXPECT_EQ(values.grad().scalar_type(), at::kBFloat16);
}

// Away from the clip boundaries the losses are smooth; both sides of the ratio clip appear.
TEST(Ppo, LossGradientMatchesFiniteDifferences) {
  std::vector<at::Tensor> x = {d({-1.0, -0.7, -2.5, -0.3, -1.1, -4.0}, 3),  // logprobs (ρ = 1.35, 0.55, 1.1, ...)
                               d({-1.3, -0.1, -2.6, -0.5, -0.8, -4.0}, 3),  // old logprobs
                               d({0.8, -1.1, 0.4, -0.6, 1.5, 0.3}, 3),      // advantages
                               d({0.9, 0.05, -0.3, 1.4, 0.6, 0.0}, 3),      // values
                               d({0.5, 0.1, -0.2, 1.0, 0.65, 0.0}, 3),      // old values (clip ±0.2)
                               d({1.2, -0.4, 0.3, 2.0, 0.1, 0.0}, 3),       // returns
                               d({1, 1, 1, 1, 1, 0}, 3)};                   // response mask
  auto loss = [](const std::vector<at::Tensor>& v) {
    return ppo_loss({v[0], v[1], v[2], v[3], v[4], v[5], v[6]}, PpoConfig{.vf_coef = 0.5}).loss;
  };
  test::expect_gradient_matches_fd(loss, x, {0, 3}, "ppo loss");
}

// ---- rollouts -------------------------------------------------------------------------------------------

PpoRolloutInputs rollout_inputs() {
  // Two responses of T = 4: lengths 2 and 4. Policy = reference (KL 0), values 0, scores 2 and 3.
  return {.logprobs = d({-1, -2, 1, 1, -0.5, -0.5, -0.5, -0.5}, 4),
          .ref_logprobs = d({-1, -2, 1, 1, -0.5, -0.5, -0.5, -0.5}, 4),
          .values = at::zeros({2, 4}, at::kDouble),
          .scores = at::tensor({2.0, 3.0}, at::kDouble),
          .response_mask = d({1, 1, 0, 0, 1, 1, 1, 1}, 4),
          .contains_eos = at::tensor({1, 0}, at::kInt).to(at::kBool)};
}

// With zero KL and zero values, γ = 1, λ = 0.5, the advantage halves per step back from the score:
//   last_token:       row 0 (len 2) A = (1, 2)·…: score at t = 1 → A1 = 2, A0 = 1
//   after_last_token: score at t = 2 (the first pad) → A2 = 2, A1 = 1, A0 = 0.5; value mask gains t = 2.
// Row 1 fills all 4 positions, so both put its score on t = 3: A = (0.375, 0.75, 1.5, 3).
TEST(Ppo, ScorePosition) {
  PpoConfig cfg{.lam = 0.5, .whiten_advantages = false};
  PpoRollout last = ppo_rollout(rollout_inputs(), cfg);
  expect_close(last.advantages, d({1, 2, 0, 0, 0.375, 0.75, 1.5, 3}, 4), "last_token", 1e-15);
  expect_close(last.rewards, d({0, 2, 0, 0, 0, 0, 0, 3}, 4), "rewards", 1e-15);
  cfg.score_position = ScorePosition::kAfterLastToken;
  PpoRollout after = ppo_rollout(rollout_inputs(), cfg);
  expect_close(after.returns, d({0.5, 1, 2, 0, 0.375, 0.75, 1.5, 3}, 4), "after_last_token returns", 1e-15);
  expect_close(after.advantages, d({0.5, 1, 0, 0, 0.375, 0.75, 1.5, 3}, 4), "after_last_token advantages", 1e-15);
  EXPECT_TRUE(at::equal(after.value_mask, d({1, 1, 1, 0, 1, 1, 1, 1}, 4).to(at::kBool)));
}

// Per-token rewards −β·KL with the score (after missing_eos_penalty) on the last token. k1 with logprob
// −1 and reference −1.5 gives KL 0.5 per token: row 0 (2 tokens) rewards (−0.05, −0.05 + 2); row 1 has
// no EOS, so its score 3 becomes 3 − 1 = 2. Metrics: objective/kl = mean of per-row KL sums =
// (2·0.5 + 4·0.5)/2 = 1.5; non_score_reward = −0.1·1.5 = −0.15; scores mean (2 + 2)/2 = 2; rlhf_reward
// = 1.85; entropy = mean of −Σ logprob = (2 + 4)/2 = 3.
TEST(Ppo, KlShapedRewardsAndMetrics) {
  PpoRolloutInputs in = rollout_inputs();
  in.logprobs = at::full({2, 4}, -1.0, at::kDouble);
  in.ref_logprobs = at::full({2, 4}, -1.5, at::kDouble);
  PpoConfig cfg{.kl_coef = 0.1, .missing_eos_penalty = 1.0};
  PpoRollout out = ppo_rollout(in, cfg);
  expect_close(out.rewards, d({-0.05, 1.95, 0, 0, -0.05, -0.05, -0.05, 1.95}, 4), "rewards", 1e-15);
  expect_close(out.scores, at::tensor({2.0, 2.0}, at::kDouble), "scores");
  EXPECT_NEAR(metric_value(out.metrics, "objective/kl"), 1.5, 1e-15);
  EXPECT_NEAR(metric_value(out.metrics, "objective/non_score_reward"), -0.15, 1e-15);
  EXPECT_NEAR(metric_value(out.metrics, "objective/scores"), 2.0, 1e-15);
  EXPECT_NEAR(metric_value(out.metrics, "objective/rlhf_reward"), 1.85, 1e-15);
  EXPECT_NEAR(metric_value(out.metrics, "objective/entropy"), 3.0, 1e-15);
  // Whitened advantages have mean 0 over the response tokens and are 0 on padding.
  EXPECT_NEAR(out.advantages.sum().item<double>(), 0.0, 1e-12);
  EXPECT_EQ(out.advantages[0][2].item<double>(), 0.0);
  // An explicit coefficient (the adaptive controller's) replaces config.kl_coef.
  EXPECT_NEAR(ppo_rollout(in, cfg, 0.2).rewards[0][0].item<double>(), -0.1, 1e-15);
}

// Whitened rewards keep their mean over the value positions and are 0 outside.
TEST(Ppo, WhitenedRewardsKeepTheirMean) {
  PpoRolloutInputs in = rollout_inputs();
  PpoRollout out = ppo_rollout(in, PpoConfig{.whiten_rewards = true});
  const double mean = (2.0 + 3.0) / 6.0;  // the two scores over the 6 response tokens
  EXPECT_NEAR(out.rewards.sum().item<double>() / 6.0, mean, 1e-12);
  EXPECT_EQ(out.rewards[0][3].item<double>(), 0.0);
}

TEST(Ppo, InputAndConfigErrors) {
  PpoRolloutInputs in = rollout_inputs();
  in.response_mask = d({1, 0, 1, 0, 1, 1, 1, 1}, 4);
  EXPECT_ERROR_WITH(ppo_rollout(in, PpoConfig{}), "'response_mask'", "prefix");
  in = rollout_inputs();
  in.contains_eos = at::Tensor();
  EXPECT_ERROR_WITH(ppo_rollout(in, PpoConfig{.missing_eos_penalty = 1.0}), "'contains_eos'");
  EXPECT_ERROR_WITH(PpoConfig{.cliprange = 0.0}.validate(), "'cliprange'");
  EXPECT_ERROR_WITH(PpoConfig{.lam = 1.5}.validate(), "'lam'");
  EXPECT_ERROR_WITH(PpoConfig{.gamma = -0.1}.validate(), "'gamma'");
  EXPECT_ERROR_WITH(PpoConfig{.horizon = 0.0}.validate(), "'horizon'");
  EXPECT_ERROR_WITH(parse_score_position("last_tokens"), "'score_position'", "did you mean 'last_token'?");
  PpoConfig defaults;  // TRL v1.x PPOConfig defaults
  EXPECT_EQ(defaults.kl_coef, 0.05);
  EXPECT_EQ(defaults.cliprange, 0.2);
  EXPECT_EQ(defaults.vf_coef, 0.1);
  EXPECT_EQ(defaults.cliprange_value, 0.2);
  EXPECT_EQ(defaults.gamma, 1.0);
  EXPECT_EQ(defaults.lam, 0.95);
  EXPECT_EQ(defaults.make_kl_controller().value, 0.05);
}

// The whole rollout (KL estimator, score placement, GAE, whitening) against central differences:
// d(Σ w·returns + Σ w'·advantages) / d(logprobs, ref_logprobs, values, scores).
TEST(Ppo, RolloutGradientMatchesFiniteDifferences) {
  PpoRolloutInputs base = rollout_inputs();
  std::vector<at::Tensor> x = {d({-1.0, -2.0, 1, 1, -0.5, -0.7, -0.2, -0.9}, 4),
                               d({-1.3, -1.6, 1, 1, -0.4, -0.9, -0.6, -0.5}, 4),
                               d({0.1, 0.4, 0, 0, -0.3, 0.2, 0.5, 0.1}, 4), base.scores};
  at::Tensor w = d({0.3, -1.2, 0.7, 2.0, -0.4, 0.5, 1.1, -0.8}, 4);
  at::Tensor w2 = d({1.0, 0.2, -0.6, 0.4, 0.9, -1.3, 0.8, 0.25}, 4);
  for (auto e : {KlEstimator::kK1, KlEstimator::kK2, KlEstimator::kK3}) {
    for (auto position : {ScorePosition::kLastToken, ScorePosition::kAfterLastToken}) {
      PpoConfig cfg{.kl_coef = 0.3, .kl_estimator = e, .gamma = 0.9, .lam = 0.7, .whiten_rewards = true,
                    .missing_eos_penalty = 0.5, .score_position = position};
      auto loss = [&, cfg](const std::vector<at::Tensor>& v) {
        PpoRolloutInputs in = base;
        in.logprobs = v[0];
        in.ref_logprobs = v[1];
        in.values = v[2];
        in.scores = v[3];
        PpoRollout r = ppo_rollout(in, cfg);
        return (r.returns * w).sum() + (r.advantages * w2).sum();
      };
      test::expect_gradient_matches_fd(loss, x, {0, 1, 2, 3}, "rollout " + to_string(e) + " " + to_string(position));
    }
  }
}

}  // namespace
}  // namespace prefer::objectives
