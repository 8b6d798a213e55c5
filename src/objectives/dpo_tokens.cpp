#include "objectives/dpo_tokens.h"

#include <ATen/ATen.h>

#include "objectives/loss_math.h"
#include "util/error.h"

namespace prefer::objectives {

namespace {

// Σ over the masked positions of each row: [B, T] -> [B]. where() keeps padding values (which may be
// anything) out of the sum and out of the gradient.
at::Tensor masked_row_sum(const at::Tensor& values, const at::Tensor& keep) {
  return at::where(keep, values, at::zeros({}, values.options())).sum(1);
}

void check_pair(const at::Tensor& values, const std::string& values_name, const at::Tensor& mask,
                const std::string& mask_name, int64_t rows) {
  check_matrix(values, values_name, rows);
  check_matrix(mask, mask_name, rows, values.size(1));
}

}  // namespace

at::Tensor ld_sequence_logps(const at::Tensor& token_logps, const at::Tensor& completion_mask,
                             const at::Tensor& shared_lengths, double ld_alpha) {
  at::Tensor keep = completion_mask.to(at::kBool);
  // 1-based index of each completion token within its completion, counted over the mask, so the split
  // is relative to the first completion token whatever the padding.
  at::Tensor position = keep.to(at::kLong).cumsum(1);
  at::Tensor shared = shared_lengths.to(at::kLong).unsqueeze(1);
  at::Tensor front = keep & (position <= shared);
  at::Tensor tail = keep & (position > shared);
  return masked_row_sum(token_logps, front) + ld_alpha * masked_row_sum(token_logps, tail);
}

at::Tensor ld_shared_lengths(const at::Tensor& chosen_mask, const at::Tensor& rejected_mask) {
  return at::minimum(chosen_mask.to(at::kBool).sum(1), rejected_mask.to(at::kBool).sum(1));
}

at::Tensor log_sum_p_squared(const at::Tensor& logits) {
  at::Tensor z = logits.detach();
  if (z.scalar_type() != at::kDouble) z = z.to(at::kFloat);
  return at::logsumexp(z * 2.0, {-1}) - 2.0 * at::logsumexp(z, {-1});
}

at::Tensor wpo_log_weights(const at::Tensor& token_logps, const at::Tensor& log_sum_p_sq,
                           const at::Tensor& completion_mask) {
  at::Tensor keep = completion_mask.to(at::kBool);
  at::Tensor aligned = token_logps.detach() - log_sum_p_sq.detach().to(token_logps.scalar_type());
  at::Tensor count = keep.sum(1).clamp_min(1).to(aligned.scalar_type());
  return masked_row_sum(aligned, keep) / count;
}

at::Tensor wpo_pair_weights(const at::Tensor& chosen_log_weights, const at::Tensor& rejected_log_weights,
                            TrlVersion version) {
  at::Tensor c = chosen_log_weights.detach(), r = rejected_log_weights.detach();
  if (version == TrlVersion::kV0_28) return at::exp(c + r).clamp_max(1.0);
  return at::exp(c) * at::exp(r);
}

DpoInputs dpo_inputs_from_tokens(const DpoTokenInputs& t, const DpoConfig& cfg) {
  check_matrix(t.policy_chosen_token_logps, "policy_chosen_token_logps");
  const int64_t batch = t.policy_chosen_token_logps.size(0);
  check_pair(t.policy_chosen_token_logps, "policy_chosen_token_logps", t.chosen_completion_mask,
             "chosen_completion_mask", batch);
  check_pair(t.policy_rejected_token_logps, "policy_rejected_token_logps", t.rejected_completion_mask,
             "rejected_completion_mask", batch);
  check_pair(t.reference_chosen_token_logps, "reference_chosen_token_logps", t.chosen_completion_mask,
             "chosen_completion_mask", batch);
  check_pair(t.reference_rejected_token_logps, "reference_rejected_token_logps", t.rejected_completion_mask,
             "rejected_completion_mask", batch);

  at::Tensor keep_c = t.chosen_completion_mask.to(at::kBool);
  at::Tensor keep_r = t.rejected_completion_mask.to(at::kBool);
  DpoInputs in;
  in.chosen_lengths = keep_c.sum(1);
  in.rejected_lengths = keep_r.sum(1);
  in.nll_loss = t.nll_loss;

  auto plain = [](const at::Tensor& logps, const at::Tensor& keep) { return masked_row_sum(logps, keep); };
  if (cfg.ld_alpha) {
    const double a = *cfg.ld_alpha;
    at::Tensor shared = ld_shared_lengths(keep_c, keep_r);
    in.policy_chosen_logps = ld_sequence_logps(t.policy_chosen_token_logps, keep_c, shared, a);
    in.policy_rejected_logps = ld_sequence_logps(t.policy_rejected_token_logps, keep_r, shared, a);
    // v1.9.0 desensitises the reference too; v0.28.0 only the policy (its reference pass skips LD).
    if (cfg.trl_version == TrlVersion::kV1_9) {
      in.reference_chosen_logps = ld_sequence_logps(t.reference_chosen_token_logps, keep_c, shared, a);
      in.reference_rejected_logps = ld_sequence_logps(t.reference_rejected_token_logps, keep_r, shared, a);
    } else {
      in.reference_chosen_logps = plain(t.reference_chosen_token_logps, keep_c);
      in.reference_rejected_logps = plain(t.reference_rejected_token_logps, keep_r);
    }
  } else {
    in.policy_chosen_logps = plain(t.policy_chosen_token_logps, keep_c);
    in.policy_rejected_logps = plain(t.policy_rejected_token_logps, keep_r);
    in.reference_chosen_logps = plain(t.reference_chosen_token_logps, keep_c);
    in.reference_rejected_logps = plain(t.reference_rejected_token_logps, keep_r);
  }

  if (cfg.use_weighting) {
    const std::string why = "use_weighting needs log Σ p² of the policy at every position";
    require_input(t.chosen_log_sum_p_squared, "chosen_log_sum_p_squared", why);
    require_input(t.rejected_log_sum_p_squared, "rejected_log_sum_p_squared", why);
    check_matrix(t.chosen_log_sum_p_squared, "chosen_log_sum_p_squared", batch, keep_c.size(1));
    check_matrix(t.rejected_log_sum_p_squared, "rejected_log_sum_p_squared", batch, keep_r.size(1));
    in.chosen_wpo_log_weights = wpo_log_weights(t.policy_chosen_token_logps, t.chosen_log_sum_p_squared, keep_c);
    in.rejected_wpo_log_weights =
        wpo_log_weights(t.policy_rejected_token_logps, t.rejected_log_sum_p_squared, keep_r);
  }
  return in;
}

}  // namespace prefer::objectives
