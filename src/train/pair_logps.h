// The policy's scores of a paired batch, in the form every pairwise objective reads (DPO, ORPO, CPO,
// SimPO, AlphaPO): summed completion log-probs, token counts, the chosen NLL and TRL's logits metrics,
// plus WPO's per-sequence log-weights.
//
// Shapes: B pairs; the batch's sequences are chosen 0..B-1 then rejected B..2B-1 (data::Batch).
#pragma once

#include <ATen/core/Tensor.h>

#include "data/batch.h"
#include "model/scorer.h"
#include "objectives/metrics.h"

namespace prefer::train {

struct PairLogps {
  at::Tensor chosen, rejected;                // [B] float64 summed completion log-probs, differentiable
  at::Tensor chosen_tokens, rejected_tokens;  // [B] float64 completion token counts, clamped to >= 1
  // [] −(Σ log p) / (number of tokens) over every chosen completion token of the micro-batch (TRL's
  // cross-entropy on the chosen rows with the prompt masked), differentiable. With the batch's
  // score_chosen_prompt the chosen prompts' tokens count too (TRL's ORPO: the whole chosen sequence).
  at::Tensor chosen_nll;
  // logits/chosen and logits/rejected (the vocabulary-mean logit averaged over completion tokens), and
  // entropy (mean next-token entropy over every completion token); empty without the scores' stats.
  objectives::Metrics stats;

  at::Tensor chosen_mean() const;  // [B] per-token averages, differentiable
  at::Tensor rejected_mean() const;
};

// `scores` are batch_logps(model, batch, ...) of a paired batch (with stats for the metrics).
PairLogps pair_logps(const model::SequenceScores& scores, const data::Batch& batch);

// WPO (Zhou et al. 2024, arXiv 2406.11827, eq. 2) in log space, per sequence [S] float64, detached:
// log w(y) = mean over y's tokens of [log p(y_t) − log Σ_v p_v(t)²]. Needs the scores' stats.
at::Tensor wpo_sequence_log_weights(const model::SequenceScores& scores, const data::Batch& batch);

}  // namespace prefer::train
