// KTO (TRL's KTOTrainer): unpaired desirable / undesirable completions, each judged against a KL
// reference point estimated from mismatched completions.
//
// Shapes: D desirable examples, U undesirable examples, K KL completions (one per batch example in TRL).
#pragma once

#include <ATen/core/Tensor.h>

#include <string>
#include <string_view>

#include "objectives/metrics.h"

namespace prefer::objectives {

enum class KtoLossType { kKto, kApoZeroUnpaired };

// TRL's KTOConfig.loss_type: "kto", "apo_zero_unpaired".
KtoLossType parse_kto_loss_type(std::string_view name);
std::string to_string(KtoLossType type);

struct KtoConfig {
  double beta = 0.1;
  KtoLossType loss_type = KtoLossType::kKto;
  double desirable_weight = 1.0;    // λ_D
  double undesirable_weight = 1.0;  // λ_U

  void validate() const;
  // "kto" needs the KL completions (or a precomputed `kl`); "apo_zero_unpaired" does not.
  bool needs_kl() const { return loss_type == KtoLossType::kKto; }
};

struct KtoInputs {
  at::Tensor policy_chosen_logps;       // [D] summed completion log-probs of the desirable examples
  at::Tensor reference_chosen_logps;    // [D]
  at::Tensor policy_rejected_logps;     // [U] undesirable examples
  at::Tensor reference_rejected_logps;  // [U]
  at::Tensor policy_KL_logps;           // [K] mismatched (prompt, completion) pairs, for the KL estimate
  at::Tensor reference_KL_logps;        // [K]
  // Optional: the raw (unclamped) KL estimate [], e.g. kto_kl_estimate() averaged across ranks as TRL
  // does; when defined it replaces the estimate from the KL log-probs.
  at::Tensor kl;
};

struct KtoOutput {
  at::Tensor loss;              // [] nanmean(losses)
  at::Tensor losses;            // [D + U] cat(λ_D·desirable losses, λ_U·undesirable losses)
  at::Tensor chosen_rewards;    // [D] β·(log π − log π_ref), detached
  at::Tensor rejected_rewards;  // [U]
  at::Tensor kl;                // [] the reference point z0 = max(0, KL estimate), detached (0 without KL)
  // kl; rewards/chosen, logps/chosen (when D > 0); rewards/rejected, logps/rejected (when U > 0);
  // rewards/margins (when both).
  Metrics metrics;
};

// The raw KL estimate mean(policy_KL_logps − reference_KL_logps), detached, before the clamp at 0.
at::Tensor kto_kl_estimate(const at::Tensor& policy_KL_logps, const at::Tensor& reference_KL_logps);

// Validates `config`, then computes the loss.
KtoOutput kto_loss(const KtoInputs& inputs, const KtoConfig& config);

}  // namespace prefer::objectives
