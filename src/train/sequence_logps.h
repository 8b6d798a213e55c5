// A batch's per-sequence log-probs from a model, through the explicit score lists of data::Batch
// (works for every layout, prefix-shared included): the hidden state of each scored token's source slot
// goes through the LM head in chunks (model::chunked_token_logprobs), never [tokens, vocab] at once.
#pragma once

#include <ATen/core/Tensor.h>

#include "data/batch.h"
#include "model/causal_lm.h"

namespace prefer::train {

struct SequenceLogps {
  at::Tensor sum;          // [S] summed completion log-probs (differentiable when grad is on)
  at::Tensor count;        // [S] int64 scored tokens
  at::Tensor token_logps;  // [N] per scored token, in the batch's score-list order
  at::Tensor mean_logit;   // [N] mean over the vocabulary of each scored position's logits (stats only)
};

SequenceLogps sequence_logps(const model::CausalLM& model, const data::Batch& batch, int64_t chunk_tokens = 1024,
                             bool stats = false);

}  // namespace prefer::train
