// Token-level inputs of DPO turned into the sequence-level DpoInputs: plain completion sums, LD-DPO's
// length-desensitised sums (ld_alpha) and WPO's weights (use_weighting).
//
// Shapes: B pairs; chosen rows have Tc positions, rejected rows Tr. A completion mask is 1 (or true) on
// the completion tokens of a row, in any position (left or right padding both work).
#pragma once

#include <ATen/core/Tensor.h>

#include "objectives/dpo.h"
#include "objectives/dpo_config.h"

namespace prefer::objectives {

// LD-DPO (2024, "Length Desensitization in Direct Preference Optimization", arXiv
// 2409.06411): the first `shared_lengths` completion tokens of a row count fully, the rest (the
// "verbose" tail of the longer completion) with weight ld_alpha.
//   token_logps [B, T], completion_mask [B, T], shared_lengths [B] -> [B]
at::Tensor ld_sequence_logps(const at::Tensor& token_logps, const at::Tensor& completion_mask,
                             const at::Tensor& shared_lengths, double ld_alpha);

// The shared length ℓp = min(completion tokens of y_c, of y_r), [B], from the two masks.
at::Tensor ld_shared_lengths(const at::Tensor& chosen_mask, const at::Tensor& rejected_mask);

// log Σ_v p_v² per position from logits [..., V] -> [...]: logsumexp(2z) − 2·logsumexp(z). Detached.
at::Tensor log_sum_p_squared(const at::Tensor& logits);

// WPO, Zhou et al. 2024 (arXiv 2406.11827), eq. 2, in log space: log w(y) = mean over the completion
// tokens of [log p(y_t) − log Σ_v p_v(t)²]. token_logps, log_sum_p_sq, completion_mask [B, T] -> [B],
// detached. A row without completion tokens gets log w = 0.
at::Tensor wpo_log_weights(const at::Tensor& token_logps, const at::Tensor& log_sum_p_sq,
                           const at::Tensor& completion_mask);

// The WPO weight of each pair from the two log-weights [B] -> [B], detached: v1.9.0 w_c·w_r (no clamp),
// v0.28.0 min(1, w_c·w_r).
at::Tensor wpo_pair_weights(const at::Tensor& chosen_log_weights, const at::Tensor& rejected_log_weights,
                            TrlVersion version);

struct DpoTokenInputs {
  at::Tensor policy_chosen_token_logps;       // [B, Tc] differentiable
  at::Tensor policy_rejected_token_logps;     // [B, Tr]
  at::Tensor reference_chosen_token_logps;    // [B, Tc]
  at::Tensor reference_rejected_token_logps;  // [B, Tr]
  at::Tensor chosen_completion_mask;          // [B, Tc]
  at::Tensor rejected_completion_mask;        // [B, Tr]
  // log Σ_v p_v² of the policy at each position (log_sum_p_squared()), needed by use_weighting.
  at::Tensor chosen_log_sum_p_squared;    // [B, Tc]
  at::Tensor rejected_log_sum_p_squared;  // [B, Tr]
  at::Tensor nll_loss;                    // [] passed through (sft, rpo_alpha)
};

// Sequence log-probs (masked sums; with ld_alpha the LD-DPO sums: v1.9.0 for policy and reference,
// v0.28.0 for the policy only), completion lengths, WPO log-weights when use_weighting, and the NLL.
DpoInputs dpo_inputs_from_tokens(const DpoTokenInputs& tokens, const DpoConfig& config);

}  // namespace prefer::objectives
