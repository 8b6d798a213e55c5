// Gradient checkpointing of one decoder layer (TRL's gradient_checkpointing, the reentrant form): the
// forward runs without autograd and keeps only the layer's input x [B, T, hidden] (and the shared rope
// tables and bias); backward runs the layer again with autograd on and differentiates it. Activation
// memory of a forward drops from every layer's intermediates to one input per layer plus one layer's
// intermediates during backward, for about a third more compute (one more forward).
//
// The recomputation sees the same random numbers as the forward (LoRA dropout): the device's generator
// state is saved before the forward and restored around the recomputation. Gradients reach the layer's
// trainable tensors (norms, weights, LoRA A/B: whichever require grad) and x, as the plain forward's do.
#pragma once

#include <ATen/core/Tensor.h>

#include "model/decoder_layer.h"

namespace prefer::model {

// decoder_layer_forward(layer, x, in) with recomputation in backward. `in` must have no KV cache; the
// layer must outlive the backward pass (it is the model's own).
at::Tensor checkpointed_layer_forward(const DecoderLayer& layer, const at::Tensor& x, const LayerInputs& in);

}  // namespace prefer::model
