// Reward-model training (TRL's RewardTrainer): the Bradley–Terry pairwise loss on scalar rewards, with
// an optional per-pair margin and reward centring.
//
// Shapes: B pairs.
#pragma once

#include <ATen/core/Tensor.h>

#include <optional>

#include "objectives/metrics.h"

namespace prefer::objectives {

struct RewardConfig {
  // c of the auxiliary loss c·mean((r_c + r_r)²) that keeps rewards centred on 0; unset = no term.
  std::optional<double> center_rewards_coefficient;

  void validate() const;
};

struct RewardInputs {
  at::Tensor rewards_chosen;    // [B] r_c, the reward model's scalar output, differentiable
  at::Tensor rewards_rejected;  // [B] r_r
  at::Tensor margin;            // [B] optional data column m: how much better y_c is
};

struct RewardOutput {
  at::Tensor loss;            // [] mean(losses)
  at::Tensor losses;          // [B] −logσ(r_c − r_r − m) + c·(r_c + r_r)²
  at::Tensor bradley_terry;   // [B] −logσ(r_c − r_r − m), detached
  // accuracy (mean of r_c > r_r), margin (mean of r_c − r_r), min_reward, mean_reward, max_reward (over
  // all 2B rewards).
  Metrics metrics;
};

// Validates `config`, then computes the loss.
RewardOutput reward_loss(const RewardInputs& inputs, const RewardConfig& config);

}  // namespace prefer::objectives
