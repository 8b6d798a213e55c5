#include "train/sequence_logps.h"

#include <ATen/ATen.h>

#include "model/scorer.h"

namespace prefer::train {

SequenceLogps sequence_logps(const model::CausalLM& model, const data::Batch& b, int64_t chunk_tokens, bool stats) {
  at::Tensor hidden = model.forward(b.ids, b.positions, b.layout);   // [R, T, H]
  at::Tensor h = hidden.reshape({-1, hidden.size(-1)}).index_select(0, b.score_source);  // [N, H]
  SequenceLogps out;
  at::Tensor entropy, mean_logit;
  out.token_logps = model::chunked_token_logprobs(h, model.lm_head_weight(), b.score_target, chunk_tokens,
                                                  stats ? &entropy : nullptr, stats ? &mean_logit : nullptr);
  out.sum = at::zeros({b.sequences}, out.token_logps.options()).index_add(0, b.score_sequence, out.token_logps);
  out.count = at::zeros({b.sequences}, at::kLong).index_add(0, b.score_sequence, at::ones_like(b.score_sequence));
  if (stats) out.mean_logit = mean_logit;
  return out;
}

}  // namespace prefer::train
