// DPO and its loss family (TRL's DPOTrainer): sequence log-probs of the policy and the reference in,
// per-example losses, the batch loss, implicit rewards and metrics out.
//
// Shapes: B = number of preference pairs. Every log-prob is the sum over completion tokens unless noted.
#pragma once

#include <ATen/core/Tensor.h>

#include <optional>
#include <utility>
#include <vector>

#include "objectives/dpo_config.h"
#include "objectives/metrics.h"

namespace prefer::objectives {

struct DpoInputs {
  at::Tensor policy_chosen_logps;       // [B] log π(y_c|x), differentiable
  at::Tensor policy_rejected_logps;     // [B] log π(y_r|x), differentiable
  at::Tensor reference_chosen_logps;    // [B] log π_ref(y_c|x), constant in training
  at::Tensor reference_rejected_logps;  // [B] log π_ref(y_r|x)
  // Completion token counts [B], needed by "ipo" and "sigmoid_norm" (clamped to >= 1).
  at::Tensor chosen_lengths;
  at::Tensor rejected_lengths;
  // Token-mean cross-entropy of the chosen completions, a scalar [], needed by "sft" and rpo_alpha.
  at::Tensor nll_loss;
  // WPO log-weights log w(y) [B] (wpo_log_weights() in dpo_tokens.h), needed by use_weighting. Detached.
  at::Tensor chosen_wpo_log_weights;
  at::Tensor rejected_wpo_log_weights;
};

// State carried between steps by trl_version v0.28.0's "bco_pair": the running mean of the batch-mean
// reward (TRL's RunningMoments, including its float32 rounding). A fresh state has mean 0.
struct BcoRunningMean {
  double mean = 0.0;
  double count = 1e-24;
  // Folds in one batch mean and returns the updated mean (the δ that step subtracts).
  double update(double batch_mean);
};

struct DpoState {
  BcoRunningMean bco;
};

struct DpoOutput {
  at::Tensor loss;    // [] the batch loss to backpropagate = mean(losses)
  at::Tensor losses;  // [B] Σ_k w_k·ℓ_k per pair (times the WPO weight when use_weighting)
  // Each term ℓ_k [B] in config.terms() order; v1.9.0: after the WPO weight, v0.28.0: before it.
  std::vector<std::pair<DpoLossType, at::Tensor>> losses_by_type;
  at::Tensor chosen_rewards;    // [B] β·(log π − log π_ref) of y_c, detached (v0.28.0: times Σ loss_weights)
  at::Tensor rejected_rewards;  // [B] same for y_r
  at::Tensor chosen_scores;     // [B] f-divergence scores f(u), detached
  at::Tensor rejected_scores;   // [B] f(v), detached
  at::Tensor wpo_weights;       // [B] WPO pair weights, detached; undefined without use_weighting
  std::optional<double> bco_delta;  // v0.28.0 bco_pair: the running mean subtracted this step
  // rewards/chosen, rewards/rejected, rewards/accuracies, rewards/margins, logps/chosen, logps/rejected,
  // and nll_loss when the NLL is used.
  Metrics metrics;
};

// Validates `config`, then computes the loss. `state` is needed (and updated) only by trl_version
// v0.28.0 with "bco_pair"; pass nullptr otherwise.
DpoOutput dpo_loss(const DpoInputs& inputs, const DpoConfig& config, DpoState* state = nullptr);

}  // namespace prefer::objectives
