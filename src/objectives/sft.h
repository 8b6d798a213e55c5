// Supervised fine-tuning (TRL's SFTTrainer): token-level cross-entropy, carried as (sum, count) so that
// gradient accumulation and data parallelism can divide by the token count of the whole optimizer step.
//
// Shapes: B sequences of T positions; token_logps[b, t] = log π(y_t | y_<t) of the target token.
#pragma once

#include <ATen/core/Tensor.h>

#include <string>
#include <string_view>

#include "objectives/metrics.h"

namespace prefer::objectives {

// TRL's SFTConfig.loss_type: "nll" (also "chunked_nll", the same math computed in chunks) and "dft".
enum class SftLossType { kNll, kDft };

SftLossType parse_sft_loss_type(std::string_view name);
std::string to_string(SftLossType type);

struct SftConfig {
  SftLossType loss_type = SftLossType::kNll;

  void validate() const;
};

struct SftInputs {
  at::Tensor token_logps;  // [B, T] differentiable
  at::Tensor loss_mask;    // [B, T] 1 where the token is trained on (completion / assistant tokens)
};

struct SftOutput {
  at::Tensor loss_sum;    // [] Σ over masked tokens of the per-token loss (differentiable)
  at::Tensor num_tokens;  // [] number of masked tokens (int64)
  at::Tensor loss;        // [] loss_sum / max(num_tokens, 1): the local token mean
  Metrics metrics;        // num_tokens
};

// Validates `config`, then computes the per-batch sum and count.
//   nll: −log π(y_t)
//   dft: −sg(π(y_t))·log π(y_t)  (Dynamic Fine-Tuning, Wu et al. 2025, arXiv 2508.05629: each token's
//        loss scaled by its own probability, not differentiated)
SftOutput sft_loss(const SftInputs& inputs, const SftConfig& config);

// The loss of one micro-batch when the optimizer step covers `total_tokens` tokens (summed over
// accumulation steps and ranks): loss_sum / total_tokens. Summing these over the micro-batches (and
// ranks) gives exactly the token mean of the whole step.
at::Tensor sft_step_loss(const SftOutput& part, int64_t total_tokens);

}  // namespace prefer::objectives
