// Group-relative online RL (TRL 1.9's GRPOTrainer and RLOOTrainer): advantages from G completions of each
// prompt instead of a value model, and the clipped policy losses with GRPO's eight aggregations.
//
// Shapes: N = prompts x G completions, each prompt's G completions contiguous (TRL's RepeatSampler);
// per-token tensors are [B, T] over a micro-batch of B completions (right-padded, mask [B, T]).
#pragma once

#include <ATen/core/Tensor.h>

#include <optional>
#include <string>
#include <string_view>

#include "objectives/metrics.h"

namespace prefer::objectives {

// How GRPO scales the group-centred rewards: by the group's std ("group", TRL's default and `true`), by
// the whole batch's std ("batch", Dr. GRPO's advice against the group's), or not at all ("none"/`false`).
enum class ScaleRewards { kGroup, kBatch, kNone };
ScaleRewards parse_scale_rewards(std::string_view name);
std::string to_string(ScaleRewards s);

enum class GrpoLossType { kGrpo, kBnpo, kDrGrpo, kDapo, kCispo, kSapo, kLuspo, kVespo };
GrpoLossType parse_grpo_loss_type(std::string_view name);
std::string to_string(GrpoLossType t);

struct GroupAdvantages {
  at::Tensor advantages;  // [N]
  // reward (mean of R), reward_std (std of R over the whole batch, Bessel), frac_reward_zero_std (share of
  // groups whose std is ~0: no learning signal from them)
  Metrics metrics;
};

// GRPO (Shao et al. 2024, arXiv 2402.03300, §4.1.2): A_i = (R_i − mean_g) / (std + 1e-4) with the group's
// Bessel std ("group"), the batch's ("batch"), or A_i = R_i − mean_g ("none"). rewards [N], N = groups x G.
GroupAdvantages grpo_advantages(const at::Tensor& rewards, int64_t num_generations, ScaleRewards scale);

// RLOO (Ahmadian et al. 2024, arXiv 2402.14740): R_i ← R_i − β·kl_i (kl_i = Σ_t log π_old − log π_ref, k1,
// undefined when β = 0), then A_i = R_i − (Σ_{j≠i} R_j)/(G − 1) within the group; normalize: a batch
// z-score of A (std + 1e-4). frac_reward_zero_std is measured after the KL term, as TRL does.
GroupAdvantages rloo_advantages(const at::Tensor& rewards, const at::Tensor& kl, double beta, int64_t num_generations,
                                bool normalize);

struct GrpoConfig {
  GrpoLossType loss_type = GrpoLossType::kDapo;
  double epsilon = 0.2;                  // ratio clip below: 1 − epsilon
  std::optional<double> epsilon_high;    // ratio clip above: 1 + epsilon_high (default epsilon); cispo: the cap itself
  double beta = 0.0;                     // per-token k3 KL to the reference (0: no reference)
  int64_t max_completion_length = 256;   // dr_grpo's constant denominator
  double sapo_temperature_pos = 1.0, sapo_temperature_neg = 1.05;
  double high() const { return epsilon_high.value_or(epsilon); }
  void validate() const;
};

struct GrpoLossInputs {
  at::Tensor logprobs;      // [B, T] current policy, differentiable
  at::Tensor old_logprobs;  // [B, T] the policy that sampled (π_old)
  at::Tensor ref_logprobs;  // [B, T] reference; needed when beta > 0
  at::Tensor advantages;    // [B]
  at::Tensor mask;          // [B, T] completion tokens
  // dapo, cispo, vespo: the completion tokens of the whole generation batch (per process), the
  // denominator of every micro-batch's sum; no division by gradient_accumulation_steps then.
  double num_items_in_batch = 0;
  int64_t gradient_accumulation_steps = 1;
};

struct GrpoLossOutput {
  at::Tensor loss;  // []: this micro-batch's share of the optimizer step's loss (TRL's scaling)
  // kl (token mean of k3, beta > 0), clip_ratio/low_mean, low_min, high_mean, high_max, region_mean
  Metrics metrics;
};

// Per token, r = e^(log π − log π_old):
//   grpo, bnpo, dr_grpo, dapo, luspo: ℓ = −min(r·A, clip(r, 1 − ε, 1 + ε_h)·A)
//   cispo: ℓ = −sg(min(r, ε_h))·A·log π
//   sapo:  ℓ = −σ(τ(r − 1))·(4/τ)·A, τ = sapo_temperature_pos if A > 0 else sapo_temperature_neg
//   vespo: ℓ = −sg(φ(w))·A·log π, w = e^(masked mean_t (log π − log π_old)), φ(w) = e^(λ + k·ln w − λw),
//          (k, λ) = (2, 3) if A ≥ 0 else (3, 2)
// plus β·k3(π, π_ref) per token when β > 0; aggregated over the micro-batch as
//   grpo, sapo: mean_i(Σ_t mℓ / Σ_t m) / GA        bnpo: Σ mℓ / Σ m / GA
//   dr_grpo: Σ mℓ / (B·max_completion_length) / GA  luspo: mean_i(Σ_t mℓ) / GA
//   dapo, cispo, vespo: Σ mℓ / num_items_in_batch
GrpoLossOutput grpo_loss(const GrpoLossInputs& inputs, const GrpoConfig& config);

// RLOO's loss: one ratio per completion, ρ_i = e^(Σ_t log π − Σ_t log π_old), L = mean_i −min(ρ·A,
// clip(ρ, 1 − ε, 1 + ε_h)·A) / GA. Clip ratios count completions.
GrpoLossOutput rloo_loss(const GrpoLossInputs& inputs, double epsilon, double epsilon_high);

}  // namespace prefer::objectives
