#include "train/pair_logps.h"

#include <ATen/ATen.h>

#include "util/error.h"

namespace prefer::train {

namespace {

// Per-sequence means weighted back by token counts, over sequences [from, to): the mean per token.
at::Tensor token_mean(const at::Tensor& per_sequence_mean, const at::Tensor& counts, int64_t from, int64_t to) {
  at::Tensor n = counts.slice(0, from, to);
  return (per_sequence_mean.to(at::kDouble).slice(0, from, to) * n).sum() / n.sum().clamp_min(1);
}

}  // namespace

at::Tensor PairLogps::chosen_mean() const { return chosen / chosen_tokens; }
at::Tensor PairLogps::rejected_mean() const { return rejected / rejected_tokens; }

PairLogps pair_logps(const model::SequenceScores& s, const data::Batch& batch) {
  if (!batch.paired) throw Error("this method needs preference pairs (prompt, chosen, rejected)");
  const int64_t B = batch.pairs;
  at::Tensor sum = s.sum.to(at::kDouble);
  at::Tensor counts = s.count.to(at::kDouble);
  at::Tensor clamped = counts.clamp_min(1);
  PairLogps p;
  p.chosen = sum.slice(0, 0, B);
  p.rejected = sum.slice(0, B, 2 * B);
  p.chosen_tokens = clamped.slice(0, 0, B);
  p.rejected_tokens = clamped.slice(0, B, 2 * B);
  // [N] the tokens of the chosen completions (and of their prompts, sequences 2B.., when scored)
  at::Tensor chosen_tok = batch.score_sequence.lt(B).logical_or(batch.score_sequence.ge(2 * B)).to(at::kDouble);
  p.chosen_nll = -(s.token_logps.to(at::kDouble) * chosen_tok).sum() / chosen_tok.sum().clamp_min(1);
  if (s.mean_logit.defined()) {
    p.stats["logits/chosen"] = token_mean(s.mean_logit, counts, 0, B);
    p.stats["logits/rejected"] = token_mean(s.mean_logit, counts, B, 2 * B);
    p.stats["entropy"] = token_mean(s.entropy, counts, 0, 2 * B);
  }
  return p;
}

at::Tensor wpo_sequence_log_weights(const model::SequenceScores& s, const data::Batch& batch) {
  if (!s.token_log_sum_p_sq.defined())
    throw Error("WPO weights need the scorer's statistics (ScoreOptions::stats)", {.field = "use_weighting"});
  at::NoGradGuard no_grad;
  at::Tensor aligned = s.token_logps.detach().to(at::kDouble) - s.token_log_sum_p_sq.to(at::kDouble);  // [N]
  at::Tensor total = at::zeros({batch.sequences}, at::kDouble).index_add(0, batch.score_sequence, aligned);
  return total / s.count.to(at::kDouble).clamp_min(1);
}

}  // namespace prefer::train
