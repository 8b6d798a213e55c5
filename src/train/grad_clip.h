// Global-norm gradient clipping, as torch.nn.utils.clip_grad_norm_ (transformers' `max_grad_norm`).
//
// total = || (||g_1||_2, ..., ||g_n||_2) ||_2 over the parameters that have a gradient; every gradient is
// multiplied by min(1, max_norm / (total + 1e-6)) in place. The returned norm is the one before clipping,
// which transformers logs as `grad_norm`.
//
// One deliberate difference from torch: norms are accumulated in float32 (float64 for float64 gradients)
// whatever the gradient dtype, where torch computes a bfloat16 gradient's norm in bfloat16. As in torch,
// the coefficient stays on the device (no synchronisation) and a non-finite total (NaN/Inf gradients)
// spreads NaN into every gradient: the trainer must read the returned norm and skip the step or stop.
#pragma once

#include <ATen/core/Tensor.h>

#include <vector>

namespace prefer::train {

// The 2-norm of all gradients of `params` as one vector: a 0-dim float32 (float64 if any gradient is
// float64) tensor on the first gradient's device, so the caller chooses when to synchronise
// (`.item<double>()`). 0 when no parameter has a gradient. Does not modify anything.
at::Tensor grad_global_norm(const std::vector<at::Tensor>& params);

// Clips as described above when max_norm > 0 and returns the norm before clipping. max_norm <= 0 only
// measures (transformers skips clipping when max_grad_norm is 0 or unset).
at::Tensor clip_grad_norm(const std::vector<at::Tensor>& params, double max_norm);

}  // namespace prefer::train
