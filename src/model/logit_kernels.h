// Row kernels for the LM head's log-softmax (model/scorer.cpp), one chunk of logits [c, V] at a time:
// the log-sum-exp, the target's logit and the optional statistics in two passes over each row (its
// max, then its exp sums), and the gradient of log p(target) in one pass, written over the logits.
//
// They replace ATen's chain: a float32 copy of bf16 logits, then max, subtract, exp, sum and log, a
// gather, and for the statistics two batched row dot products and a mean. Most of those steps write
// a fresh [c, V] buffer (200 MB a 1024-row chunk at V = 49152), and the chain took ~1.1 s of a 7.7 s
// bf16 DPO step at 135M, of which the LM head's GEMM was ~0.2 s (docs/performance.md).
//
// Logits are contiguous CPU float32 or bf16 [c, V] (`logits_eligible`; otherwise callers keep the ATen
// ops, as for float64). Everything is computed in float32: exp within 2 ulp of float32's, sums in
// 16 lanes over blocks of 2048 and in double across blocks.
#pragma once

#include <ATen/core/Tensor.h>

namespace prefer::model::fused {

bool logits_eligible(const at::Tensor& logits);

struct LogitRowStats {
  at::Tensor lse;           // [c] float32: log Σ_v exp(logit_v)
  at::Tensor target_logit;  // [c] float32: logit_target
  // With stats (else undefined), each [c] float32:
  at::Tensor entropy;       // lse - Σ_v p_v logit_v
  at::Tensor mean_logit;    // Σ_v logit_v / V
  at::Tensor hit;           // 1 where the target is the row's argmax (its first maximum, as torch.argmax), else 0
  at::Tensor log_sum_p_sq;  // log Σ_v p_v² (WPO's weighting)
};

// targets [c] int64 in [0, V). A NaN anywhere in a row makes its lse (and statistics) NaN.
LogitRowStats logit_row_stats(const at::Tensor& logits, const at::Tensor& targets, bool stats);

// The gradient of g_n log p(target_n) with respect to the logits, written over them (rounded to their
// dtype once): logits_nv <- g_n (onehot(target_n)_v - exp(logit_nv - lse_n)). lse and g [c] float32.
void target_logprob_grad_(at::Tensor& logits, const at::Tensor& lse, const at::Tensor& g, const at::Tensor& targets);

}  // namespace prefer::model::fused
