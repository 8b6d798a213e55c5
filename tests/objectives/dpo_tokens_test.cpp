#include "objectives/dpo_tokens.h"

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

// Chosen has 2 completion tokens, rejected 4, so ℓp = 2: the rejected row counts its first two
// completion tokens fully and its last two with ld_alpha = 0.25. The rejected row is left-padded (one
// leading pad) to show that positions count from the first completion token:
//   chosen   = −1 − 2                       = −3
//   rejected = −1 − 1 + 0.25·(−4 − 8)       = −5
TEST(DpoTokens, LdWeightsTheTailOfTheLongerCompletion) {
  at::Tensor chosen = d({-1, -2, 99, 99, 99}, 5), chosen_mask = d({1, 1, 0, 0, 0}, 5);
  at::Tensor rejected = d({99, -1, -1, -4, -8}, 5), rejected_mask = d({0, 1, 1, 1, 1}, 5);
  at::Tensor shared = ld_shared_lengths(chosen_mask, rejected_mask);
  EXPECT_EQ(shared.item<int64_t>(), 2);
  EXPECT_DOUBLE_EQ(ld_sequence_logps(chosen, chosen_mask, shared, 0.25).item<double>(), -3.0);
  EXPECT_DOUBLE_EQ(ld_sequence_logps(rejected, rejected_mask, shared, 0.25).item<double>(), -5.0);
  // ld_alpha = 1 is the plain sum.
  EXPECT_DOUBLE_EQ(ld_sequence_logps(rejected, rejected_mask, shared, 1.0).item<double>(), -14.0);
}

// Uniform logits over V entries: p_v = 1/V, so log Σ p² = log(1/V) = −log V whatever the logit value.
// A one-hot-like distribution (one logit far above the rest) has Σ p² → 1, log → 0.
TEST(DpoTokens, LogSumPSquaredClosedForms) {
  at::Tensor uniform = at::full({2, 3, 8}, 1.7, at::kDouble);
  expect_close(log_sum_p_squared(uniform), at::full({2, 3}, -std::log(8.0), at::kDouble), "uniform");
  at::Tensor peaked = at::zeros({1, 4}, at::kDouble);
  peaked[0][2] = 200.0;
  EXPECT_NEAR(log_sum_p_squared(peaked).item<double>(), 0.0, 1e-15);
}

// log w = mean over completion tokens of (log p − log Σ p²): tokens (−1 − (−2)) and (−3 − (−1)) → −0.5;
// the pad position is ignored. Pair weights: v1.9.0 e^(−0.5)·e^(0.25), v0.28.0 min(1, e^(−0.25)).
TEST(DpoTokens, WpoWeights) {
  at::Tensor logw = wpo_log_weights(d({-1, -3, 5}, 3), d({-2, -1, 7}, 3), d({1, 1, 0}, 3));
  EXPECT_DOUBLE_EQ(logw.item<double>(), -0.5);
  at::Tensor c = at::tensor({-0.5, 0.5}, at::kDouble), r = at::tensor({0.25, 0.25}, at::kDouble);
  expect_close(wpo_pair_weights(c, r, TrlVersion::kV1_9),
               at::tensor({std::exp(-0.5) * std::exp(0.25), std::exp(0.5) * std::exp(0.25)}, at::kDouble), "v1.9");
  expect_close(wpo_pair_weights(c, r, TrlVersion::kV0_28), at::tensor({std::exp(-0.25), 1.0}, at::kDouble), "v0.28");
  EXPECT_FALSE(wpo_log_weights(d({-1, -3, 5}, 3).requires_grad_(true), d({-2, -1, 7}, 3), d({1, 1, 0}, 3))
                   .requires_grad());
}

// Without ld_alpha the sequence log-probs are masked sums; lengths are the mask counts; v0.28.0 keeps
// the reference sums plain under LD.
TEST(DpoTokens, SequenceInputsFromTokens) {
  DpoTokenInputs t{.policy_chosen_token_logps = d({-1, -2, 50}, 3),
                   .policy_rejected_token_logps = d({-1, -1, -4}, 3),
                   .reference_chosen_token_logps = d({-0.5, -0.5, 50}, 3),
                   .reference_rejected_token_logps = d({-2, -2, -2}, 3),
                   .chosen_completion_mask = d({1, 1, 0}, 3),
                   .rejected_completion_mask = d({1, 1, 1}, 3)};
  DpoInputs plain = dpo_inputs_from_tokens(t, DpoConfig{});
  EXPECT_DOUBLE_EQ(plain.policy_chosen_logps.item<double>(), -3.0);
  EXPECT_DOUBLE_EQ(plain.reference_rejected_logps.item<double>(), -6.0);
  EXPECT_EQ(plain.chosen_lengths.item<int64_t>(), 2);
  EXPECT_EQ(plain.rejected_lengths.item<int64_t>(), 3);
  DpoConfig ld{.ld_alpha = 0.5};
  EXPECT_DOUBLE_EQ(dpo_inputs_from_tokens(t, ld).policy_rejected_logps.item<double>(), -4.0);   // −2 + ½·(−4)
  EXPECT_DOUBLE_EQ(dpo_inputs_from_tokens(t, ld).reference_rejected_logps.item<double>(), -5.0);  // −4 + ½·(−2)
  ld.trl_version = TrlVersion::kV0_28;
  EXPECT_DOUBLE_EQ(dpo_inputs_from_tokens(t, ld).reference_rejected_logps.item<double>(), -6.0);
  DpoConfig wpo{.use_weighting = true};
  EXPECT_ERROR_WITH(dpo_inputs_from_tokens(t, wpo), "'chosen_log_sum_p_squared'");
  t.rejected_completion_mask = d({1, 1}, 2);
  EXPECT_ERROR_WITH(dpo_inputs_from_tokens(t, DpoConfig{}), "'rejected_completion_mask'", "[1, 3]");
}

// The whole token-level DPO (LD sums, then sigmoid) against central differences.
TEST(DpoTokens, GradientMatchesFiniteDifferences) {
  const Json& c = test::golden_case("dpo/v1.9.0/sigmoid/ld_alpha=0.5,beta=0.1,token_level");
  std::vector<at::Tensor> x;
  for (const char* n : {"policy_chosen_token_logps", "policy_rejected_token_logps", "reference_chosen_token_logps",
                        "reference_rejected_token_logps", "chosen_completion_mask", "rejected_completion_mask"})
    x.push_back(test::to_tensor(c["inputs"][n]));
  for (auto version : {TrlVersion::kV1_9, TrlVersion::kV0_28}) {
    DpoConfig cfg{.ld_alpha = 0.5, .trl_version = version};
    auto loss = [cfg](const std::vector<at::Tensor>& v) {
      DpoTokenInputs t{v[0], v[1], v[2], v[3], v[4], v[5]};
      return dpo_loss(dpo_inputs_from_tokens(t, cfg), cfg).loss;
    };
    test::expect_gradient_matches_fd(loss, x, {0, 1, 2, 3}, "ld token level " + to_string(version));
  }
}

}  // namespace
}  // namespace prefer::objectives
