// Attention computed a tile of queries at a time, saving O(T·D) for backward instead of O(T²).
//
// The eager product softmax(q k^T * scale + bias) v keeps the [B, H, Tq, Tk] probabilities of every
// layer alive until backward: at 512 tokens, 8 rows and 9 heads that is 75 MB per layer in float32,
// most of a 30-layer model's activation memory. Here the forward keeps only the output and the
// per-query softmax statistics; backward recomputes each tile's probabilities from them (FlashAttention's
// recomputation, with ATen's GEMMs; the softmax and its backward are one pass a row of float32 or bf16
// scores, model/attention_kernels.h, and ATen ops otherwise). When the layout is causal, a tile
// of queries reads only the key slots up to its last query, so about half of the score matrix is
// never formed, in the forward and in the backward.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>

namespace prefer::model {

// softmax(q k^T * scale + bias) v with grouped-query heads (query head h reads key/value head
// h / (Hq / Hkv)).
//   q [B, Hq, Tq, D], k and v [B, Hkv, Tk, D] in the compute dtype
//   bias [B, 1, Tq, Tk] in the softmax dtype (float32, or float64 for a float64 model)
//   causal_offset >= 0: the caller guarantees query i sees no key slot j > i + causal_offset (true for
//     causal and prefix-shared layouts; the KV cache's length for cached decoding), so a tile skips
//     those slots; < 0: every tile reads every key
//   tile: query rows per tile
//   key_spans: optional [B, Tq, 3] int64 (CPU): query i of row b sees no key slot before key_spans[b][i][0]
//     nor in [key_spans[b][i][1], key_spans[b][i][2]) (visible_key_spans, model/attention.h); each row's
//     tiles then start at their queries' first slot and leave out the slots all their queries skip
//     (packed rows: the examples before a query's own; prefix-shared rows: the chosen completion's slots,
//     for a tile of the rejected completion's queries)
// Returns [B, Tq, Hq * D] in the compute dtype. Scores are formed in the compute dtype, scaled, then
// soft-maxed in the bias dtype, as transformers' eager attention does. Differentiable in q, k and v.
at::Tensor tiled_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& bias,
                           double scale, int64_t causal_offset, int64_t tile = 64, const at::Tensor& key_spans = {});

}  // namespace prefer::model
