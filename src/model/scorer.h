// The sequence scorer: per sequence, the sum and count of the log-probs of its response tokens. SFT,
// DPO, KTO, ORPO, PPO and evaluation all get their log-probs here.
//
// Only response positions go through the LM head, in chunks of `chunk_tokens` rows, with the
// log-softmax in float32 (logsumexp), so the [tokens, vocab] logits are never built for all positions.
// The chunked product is one autograd node whose backward recomputes each chunk's logits, so training
// holds at most one [chunk, vocab] block too, where autograd through full logits would keep
// [response tokens, vocab] alive until backward. Values and gradients equal the naive path.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>

#include "model/attention.h"

namespace prefer::model {

class CausalLM;

struct ScoreOptions {
  int64_t chunk_tokens = 1024;  // response positions per LM-head product ([chunk, vocab] at a time)
  bool per_token = false;       // also return token_logps
  bool stats = false;           // also return mean_logit and entropy (metrics; no gradient)
};

struct SequenceScores {
  at::Tensor sum;             // [B] float32 (float64 for a float64 model), differentiable
  at::Tensor count;           // [B] int64: response tokens scored
  at::Tensor token_logps;     // [B, T]: log p(ids[b, t]) at scored slots, 0 elsewhere (per_token)
  at::Tensor mean_logit;      // [B]: logits averaged over the vocabulary and the response tokens (stats)
  at::Tensor entropy;         // [B]: entropy of the next-token distribution averaged over response tokens (stats)
  at::Tensor accuracy;        // [B]: share of response tokens that are the argmax of their logits (stats)
  // [N] in the token order given (score_tokens) or [B, T] (score): log Σ_v p_v² of the next-token
  // distribution at each scored token, the concentration WPO weights by (stats; no gradient).
  at::Tensor token_log_sum_p_sq;
};

// hidden [B, T, H] (CausalLM::forward), lm_head [V, H], ids [B, T] int64, response_mask [B, T] (bool or
// 0/1): true where ids[b, t] is a response token; its log-prob comes from hidden[b, t - 1], so column 0
// must be false. Padding side and layout do not matter: only the marked slots are read.
SequenceScores score(const at::Tensor& hidden, const at::Tensor& lm_head, const at::Tensor& ids,
                     const at::Tensor& response_mask, const ScoreOptions& options = {});

// The general form, for layouts where "the slot before" does not say where a token is predicted
// (prefix-shared rows, where the first rejected token is predicted from the last prompt slot): token n is
// id target[n], predicted by hidden row source[n] (flat index b * T + t into hidden [B, T, H]), and
// belongs to sequence sequence[n] in [0, num_sequences). sum/count/mean_logit/entropy are
// [num_sequences]; token_logps (per_token) is [N] in the order given.
SequenceScores score_tokens(const at::Tensor& hidden, const at::Tensor& lm_head, const at::Tensor& source,
                            const at::Tensor& target, const at::Tensor& sequence, int64_t num_sequences,
                            const ScoreOptions& options = {});

// The forward and score_tokens in one call: what every recipe uses with a data::Batch's score lists.
SequenceScores score_tokens(const CausalLM& model, const at::Tensor& ids, const at::Tensor& positions,
                            const AttentionLayout& layout, const at::Tensor& source, const at::Tensor& target,
                            const at::Tensor& sequence, int64_t num_sequences, const ScoreOptions& options = {});

// The forward and the scoring in one call.
SequenceScores score(const CausalLM& model, const at::Tensor& ids, const at::Tensor& positions,
                     const AttentionLayout& layout, const at::Tensor& response_mask, const ScoreOptions& options = {});

// The chunked kernel: log_softmax(h W^T)[n, targets[n]] for rows h [N, H], W [V, H], targets [N]
// -> [N] (float32 / float64), differentiable in h and W. With `entropy` / `mean_logit` non-null, also
// fills those per-row metrics [N] (no gradient); with `hit` non-null, 1 where the target is the argmax;
// with `log_sum_p_sq` non-null, log Σ_v p_v² per row.
at::Tensor chunked_token_logprobs(const at::Tensor& h, const at::Tensor& w, const at::Tensor& targets,
                                  int64_t chunk_tokens, at::Tensor* entropy = nullptr, at::Tensor* mean_logit = nullptr,
                                  at::Tensor* hit = nullptr, at::Tensor* log_sum_p_sq = nullptr);

}  // namespace prefer::model
