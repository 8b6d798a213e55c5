// ORPO (TRL's ORPOTrainer): the SFT loss plus an odds-ratio preference term, no reference model.
//
// Shapes: B pairs. The log-probs are per-token AVERAGES over the completion (TRL's
// get_batch_logps(average_log_prob=True)), so that e^ā is a probability-like number in (0, 1].
#pragma once

#include <ATen/core/Tensor.h>

#include "objectives/metrics.h"

namespace prefer::objectives {

struct OrpoConfig {
  double beta = 0.1;  // λ of the paper, the weight of the odds-ratio term

  void validate() const;
};

struct OrpoInputs {
  at::Tensor policy_chosen_logps;    // [B] average log-prob ā_c <= 0
  at::Tensor policy_rejected_logps;  // [B] ā_r
  at::Tensor nll_loss;               // [] token-mean cross-entropy of the chosen sequences (prompt + completion)
};

struct OrpoOutput {
  at::Tensor loss;              // [] nll_loss − mean(losses)
  at::Tensor losses;            // [B] TRL's per-pair term λ·logσ(log-odds ratio), <= 0 (note the sign)
  at::Tensor log_odds;          // [B] log-odds ratio logodds(ā_c) − logodds(ā_r), detached
  at::Tensor chosen_rewards;    // [B] λ·ā_c, detached
  at::Tensor rejected_rewards;  // [B] λ·ā_r
  // rewards/chosen, rewards/rejected, rewards/accuracies, rewards/margins, logps/chosen, logps/rejected,
  // nll_loss, log_odds_ratio (mean logσ(LO)), log_odds_chosen (mean LO).
  Metrics metrics;
};

// log(1 − e^x) for x <= 0, stable on both sides of −ln 2 (Mächler 2012, "Accurately computing
// log(1 − exp(−|a|))"): log1p(−e^x) below −ln 2, log(−expm1(x)) above.
at::Tensor log1mexp(const at::Tensor& x);

// Validates `config`, then computes the loss. float64 inputs are computed in float64 (TRL casts to
// float32 first); other dtypes in float32, as TRL.
OrpoOutput orpo_loss(const OrpoInputs& inputs, const OrpoConfig& config);

}  // namespace prefer::objectives
