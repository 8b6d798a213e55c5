// CPO, SimPO and AlphaPO (TRL's CPOTrainer): reference-free preference losses on the policy's own
// log-probs, plus cpo_alpha times the chosen NLL.
//
// Shapes: B pairs. The log-probs are token SUMS for "sigmoid" and "hinge" and per-token AVERAGES for
// "ipo", "simpo" and "alphapo" (CpoConfig::uses_average_log_prob()), as TRL's trainer feeds them.
#pragma once

#include <ATen/core/Tensor.h>

#include <string>
#include <string_view>

#include "objectives/metrics.h"

namespace prefer::objectives {

// TRL's CPOConfig.loss_type. "alphapo" is TRL's shorthand for "simpo" with cpo_alpha = 0 (any cpo_alpha
// given is ignored, as in TRL).
enum class CpoLossType { kSigmoid, kHinge, kIpo, kSimpo, kAlphapo };

CpoLossType parse_cpo_loss_type(std::string_view name);
std::string to_string(CpoLossType type);

struct CpoConfig {
  double beta = 0.1;
  double label_smoothing = 0.0;  // ε in [0, 0.5): sigmoid and simpo only
  CpoLossType loss_type = CpoLossType::kSigmoid;
  double cpo_alpha = 1.0;        // weight of the NLL term (>= 0)
  double simpo_gamma = 0.5;      // SimPO's target reward margin γ
  double alpha = 0.0;            // AlphaPO's α; 0 keeps the log-prob reward

  void validate() const;
  bool uses_average_log_prob() const;
  // The NLL weight in effect: 0 for "alphapo", else cpo_alpha.
  double effective_cpo_alpha() const;
};

struct CpoInputs {
  at::Tensor policy_chosen_logps;    // [B] (sums or averages, see above)
  at::Tensor policy_rejected_logps;  // [B]
  at::Tensor nll_loss;               // [] chosen NLL; needed unless the effective cpo_alpha is 0
};

struct CpoOutput {
  at::Tensor loss;              // [] mean(losses) + cpo_alpha·nll_loss
  at::Tensor losses;            // [B] the preference term per pair
  at::Tensor chosen_rewards;    // [B] β·x_c, or β·g(x_c) with AlphaPO; detached
  at::Tensor rejected_rewards;  // [B]
  // rewards/chosen, rewards/rejected, rewards/accuracies, rewards/margins, logps/chosen, logps/rejected,
  // nll_loss (when used).
  Metrics metrics;
};

// Validates `config`, then computes the loss.
CpoOutput cpo_loss(const CpoInputs& inputs, const CpoConfig& config);

}  // namespace prefer::objectives
