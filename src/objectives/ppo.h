// PPO for RLHF (TRL's PPOTrainer): turning a rollout into per-token rewards, advantages and value targets,
// and the clipped policy and value losses of one optimisation step.
//
// Shapes: B responses of T generated tokens (right-padded). Index t of every [B, T] tensor is response
// token t: logprobs[b, t] = log π(token t | prompt, tokens < t), values[b, t] = V(state before token t).
#pragma once

#include <ATen/core/Tensor.h>

#include <optional>
#include <string>
#include <string_view>

#include "objectives/kl_penalty.h"
#include "objectives/metrics.h"

namespace prefer::objectives {

// Where the sequence-level score lands in the per-token rewards.
//   last_token:       on the last response token (the EOS when there is one). The default.
//   after_last_token: on the position after it, with the value mask extended by that position, as TRL's
//                     PPOTrainer does literally (trl#1893, trl#3750); on the last token when the response
//                     fills all T positions.
enum class ScorePosition { kLastToken, kAfterLastToken };

ScorePosition parse_score_position(std::string_view name);
std::string to_string(ScorePosition position);

struct PpoConfig {
  double kl_coef = 0.05;                      // β of the per-token KL penalty (the initial value when adaptive)
  KlEstimator kl_estimator = KlEstimator::kK1;
  double cliprange = 0.2;                     // ε of the policy ratio clip
  double vf_coef = 0.1;                       // weight of the value loss
  double cliprange_value = 0.2;               // clip of the value prediction around the rollout's value
  double gamma = 1.0;                         // discount
  double lam = 0.95;                          // GAE λ
  bool whiten_rewards = false;                // scale the per-token rewards (mean kept)
  bool whiten_advantages = true;              // TRL always whitens advantages
  std::optional<double> missing_eos_penalty;  // subtracted from the score of responses without EOS
  ScorePosition score_position = ScorePosition::kLastToken;
  // Adaptive KL controller (TRL <= 0.11 names): when adap_kl_ctrl, the trainer keeps an
  // AdaptiveKlController{kl_coef, target, horizon} and passes its value to ppo_rollout.
  bool adap_kl_ctrl = false;
  double target = 6.0;
  double horizon = 10000;

  void validate() const;
  AdaptiveKlController make_kl_controller() const { return {kl_coef, target, horizon}; }
};

struct PpoRolloutInputs {
  at::Tensor logprobs;       // [B, T] log-probs of the sampled tokens under the rollout policy
  at::Tensor ref_logprobs;   // [B, T] the same tokens under the reference
  at::Tensor values;         // [B, T] value head at each response position
  at::Tensor scores;         // [B] reward-model score of each (prompt, response)
  at::Tensor response_mask;  // [B, T] 1 on response tokens (after truncation at the stop token)
  at::Tensor contains_eos;   // [B] bool, needed with missing_eos_penalty
};

struct PpoRollout {
  at::Tensor kl;                // [B, T] per-token KL estimate, 0 on padding
  at::Tensor non_score_reward;  // [B, T] −kl_coef·kl
  at::Tensor scores;            // [B] after missing_eos_penalty
  at::Tensor rewards;           // [B, T] non_score_reward + the score at its position (whitened if asked)
  at::Tensor value_mask;        // [B, T] positions that carry values (response, + 1 with after_last_token)
  at::Tensor values;            // [B, T] the input values, 0 outside value_mask
  at::Tensor advantages;        // [B, T] GAE, whitened over response tokens, 0 elsewhere
  at::Tensor returns;           // [B, T] raw GAE advantages + values: the value targets
  // objective/kl, objective/entropy, objective/non_score_reward, objective/rlhf_reward, objective/scores
  Metrics metrics;
};

// Rewards, advantages and returns of a rollout (Ziegler et al. 2019, arXiv 1909.08593, §2.2:
// R = score − β·KL, spread per token). `kl_coef` is the coefficient in effect (config.kl_coef, or the
// adaptive controller's value). Nothing here is differentiated in training, so call it under a no-grad
// guard as TRL does; the function itself is differentiable (the tests check it against finite
// differences).
PpoRollout ppo_rollout(const PpoRolloutInputs& inputs, const PpoConfig& config, double kl_coef);
inline PpoRollout ppo_rollout(const PpoRolloutInputs& inputs, const PpoConfig& config) {
  return ppo_rollout(inputs, config, config.kl_coef);
}

struct PpoLossInputs {
  at::Tensor logprobs;       // [B, T] log-probs under the current policy (differentiable)
  at::Tensor old_logprobs;   // [B, T] from the rollout
  at::Tensor advantages;     // [B, T] PpoRollout::advantages
  at::Tensor values;         // [B, T] current value predictions (differentiable)
  at::Tensor old_values;     // [B, T] PpoRollout::values
  at::Tensor returns;        // [B, T] PpoRollout::returns
  at::Tensor response_mask;  // [B, T] positions of the policy loss
  at::Tensor value_mask;     // [B, T] positions of the value loss; undefined = response_mask
};

struct PpoLossOutput {
  at::Tensor loss;         // [] policy_loss + vf_coef·value_loss
  at::Tensor policy_loss;  // []
  at::Tensor value_loss;   // []
  // loss/policy, loss/value, policy/approxkl, policy/clipfrac, val/clipfrac, val/ratio (TRL logs their
  // averages over an update as *_avg)
  Metrics metrics;
};

// Clipped surrogate (Schulman et al. 2017, "Proximal Policy Optimization Algorithms", arXiv 1707.06347,
// eq. 7), as a loss: mean over response tokens of max(−A·ρ, −A·clip(ρ, 1 − ε, 1 + ε)), ρ = e^(logp −
// old). Clipped value loss: ½·mean over value positions of max((V − R)², (clip(V, V_old ± ε_v) − R)²).
PpoLossOutput ppo_loss(const PpoLossInputs& inputs, const PpoConfig& config);

}  // namespace prefer::objectives
