// Row kernels for one tile of tiled attention (model/tiled_attention.cpp): the softmax of the scaled
// scores plus the bias, and the softmax's backward, each one pass over a row of the tile instead of
// ATen's chain (a bf16 -> float32 copy of the scores, the bias add, max, subtract, exp, sum, divide and
// a copy back to bf16 in forward; the same recomputation plus the dP casts and three elementwise ops in
// backward), which wrote a fresh [rows, keys] buffer at most of its steps.
//
// A tile's scores are [R, nk] (R = nb * Hkv * G * n rows in that order: batch row, key/value head,
// query head of its group, query; nk key slots), float32 or bf16, contiguous: the product q k^T as
// the GEMM leaves it. The bias is the float32 view bias[b0 : b0 + nb, 0, t0 : t0 + n, k0 : k0 + nk]
// ([nb, 1, n, nk], unit stride along keys). Per row, as transformers' eager attention computes it:
//   s = (scores * scale, rounded to the scores' dtype) + bias   (float32; for bf16 scores the scale
//       itself is rounded to bf16 first, as LibTorch 1.13's bf16 `scores * scale` rounds it)
//   p = exp(s - max s) / sum exp(s - max s)
// with exp within 2 ulp of float32's. `eligible` says when these apply (else callers keep ATen's ops).
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>

namespace prefer::model::fused {

struct TileRows {
  int64_t nb, hkv, g, n;  // R = nb * hkv * g * n
};

bool attention_eligible(const at::Tensor& scores, const at::Tensor& bias);

// p in `out` ([R, nk], the scores' dtype; may be `scores` itself). With compute_stats the row max and
// sum [R] float32 are computed and written to max and sum; otherwise the given ones are used (the
// backward's recomputation: the same p as the forward's, bit for bit).
void attention_probs(const at::Tensor& scores, const at::Tensor& bias, double scale, const TileRows& rows, at::Tensor& max,
                     at::Tensor& sum, bool compute_stats, at::Tensor& out);

// dS = scale * p * (dP - delta) over dp [R, nk] (the compute dtype, overwritten; rounded once), with p
// recomputed from the raw scores, max and sum as attention_probs does; delta [R] float32 = rowsum(dO * O).
void attention_score_grad_(at::Tensor& dp, const at::Tensor& scores, const at::Tensor& bias, double scale, const TileRows& rows,
                           const at::Tensor& max, const at::Tensor& sum, const at::Tensor& delta);

}  // namespace prefer::model::fused
