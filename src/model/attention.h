// Who attends to whom, and the attention product itself.
//
// The forward never infers anything from padding: the caller states which key slots are real, the
// position id of every token, and optionally an explicit visibility matrix (prefix-shared rows,
// packing). From that, one additive bias per distinct sliding window is built and shared by the layers.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>

namespace prefer::model {

struct AttentionLayout {
  // [B, T] bool (or 0/1 integers), true = real token. Undefined: every slot is real.
  at::Tensor key_mask;
  // Optional [B, Tq, Tk] bool: query i may see key j. Replaces the causal rule (j <= i) for layouts
  // such as prefix sharing, where the rejected response must not see the chosen one. Padding and sliding
  // windows still apply on top. Tk counts cached keys first when a KV cache is used.
  at::Tensor visibility;
};

// The additive attention bias [B, 1, Tq, Tk] in `dtype`: 0 where visible, the dtype's lowest finite
// value elsewhere (finite, so a query that sees nothing, e.g. a padding slot, gets a harmless uniform
// average instead of NaN, and gradients stay finite).
//   key_mask   [B, Tk] bool, real keys (cached ones first)
//   visibility optional [B, Tq, Tk] bool; undefined = causal by slot: query i (slot q_offset + i) sees
//              key slots j <= q_offset + i
//   q_pos      [B, Tq] int64, k_pos [B, Tk] int64: position ids, used by the sliding window
//   window     0 = none; else key j is visible only when q_pos - k_pos < window (a window of W holds W
//              keys including the query's own; for contiguous rows this equals the slot distance, and
//              for prefix-shared rows it is the distance within the logical sequence)
at::Tensor attention_bias(const at::Tensor& key_mask, const at::Tensor& visibility, const at::Tensor& q_pos,
                          const at::Tensor& k_pos, int64_t q_offset, int64_t window, at::ScalarType dtype);

// softmax(q k^T * scale + bias) v with grouped-query attention: query head h reads key/value head
// h / (Hq / Hkv).
//   q [B, Hq, Tq, D], k and v [B, Hkv, Tk, D], bias [B, 1, Tq, Tk] (from attention_bias, in the
//   softmax dtype: float32, or float64 for a float64 model)
//   causal_offset >= 0 promises that query i sees no key slot j > i + causal_offset (causal and
//   prefix-shared layouts; the cache length when decoding), so key slots past a query tile are skipped;
//   -1 promises nothing
// Returns [B, Tq, Hq * D]. Scores are formed in the compute dtype and soft-maxed in the bias dtype, as
// transformers' eager attention does. On CPU this is model/tiled_attention.h (nothing O(T²) is kept for
// backward); on CUDA with LibTorch 2.x, the fused kernel.
// key_spans (optional [B, Tq, 3] int64, CPU; visible_key_spans builds it): the key slots each query can
// see, so the CPU path skips the others (packed rows: the examples before the query's own; prefix-shared
// rows: the chosen completion, for the rejected one's queries).
at::Tensor attend(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& bias, double scale,
                  int64_t causal_offset = -1, const at::Tensor& key_spans = {});

// The key slots each query of bias [B, 1, Tq, Tk] sees, as [B, Tq, 3] int64 (CPU): its first visible slot
// (0 for a query that sees nothing) and the longest run of hidden slots between two visible ones,
// [gap_begin, gap_end) (equal when there is none). Undefined when skipping the slots before the first and
// inside the gap would save less than `min_saving` of the causal score matrix (then one batched tile per
// query block is cheaper than a tile per row).
at::Tensor visible_key_spans(const at::Tensor& bias, double min_saving = 0.15);

// Whether attend() reads key spans on this device (the tiled path; CUDA's fused kernel does not), so a
// caller builds them only then: they cost a pass over the [B, Tq, Tk] bias and its copy to the CPU.
bool attention_reads_key_spans(const at::Device& device);

}  // namespace prefer::model
