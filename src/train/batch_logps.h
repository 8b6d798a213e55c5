// A data::Batch through the one log-prob path, model::score_tokens (model/scorer.h): the batch's explicit
// score lists say which hidden slot predicts which token of which sequence, for every layout
// (concatenated, prefix-shared, packed). SFT, DPO, reward-free scoring and evaluation all come here.
#pragma once

#include "data/batch.h"
#include "model/causal_lm.h"
#include "model/scorer.h"

namespace prefer::train {

// sum / count [S], token_logps [N] in the batch's score-list order (always), and with stats the
// per-sequence entropy, mean logit and argmax accuracy.
inline model::SequenceScores batch_logps(const model::CausalLM& m, const data::Batch& b, int64_t chunk_tokens, bool stats = false) {
  return model::score_tokens(m, b.ids, b.positions, b.layout, b.score_source, b.score_target, b.score_sequence, b.sequences,
                             {.chunk_tokens = chunk_tokens, .per_token = true, .stats = stats});
}

}  // namespace prefer::train
