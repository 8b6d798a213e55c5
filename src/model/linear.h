// A linear layer with HF's weight layout ([out, in], y = x W^T + b) and an optional LoRA adapter.
#pragma once

#include <ATen/core/Tensor.h>

#include <memory>

#include "model/quantize.h"

namespace prefer::model {

// How a forward runs: whether LoRA adapters take part (off = the base model, e.g. the reference
// model of DPO without a second copy of the weights) and whether dropout is active.
struct ForwardMode {
  bool adapters = true;
  bool training = false;
};

// PEFT's LoRA: y += scale * B (A dropout(x)), A [r, in], B [out, r].
struct LoraAdapter {
  at::Tensor A;
  at::Tensor B;
  double scale = 1.0;    // lora_alpha / r, or lora_alpha / sqrt(r) with rsLoRA
  double dropout = 0.0;  // on the adapter's input only, as PEFT does
};

struct Linear {
  at::Tensor weight;  // [out, in]; undefined when the layer is quantised
  at::Tensor bias;    // [out], undefined when the layer has none
  std::shared_ptr<LoraAdapter> lora;
  // A frozen quantised weight in place of `weight` (QLoRA's base), dequantised when the layer runs.
  std::shared_ptr<const QuantizedWeight> quant;

  int64_t out_features() const { return quant ? quant->shape[0] : weight.size(0); }
  int64_t in_features() const { return quant ? quant->shape[1] : weight.size(1); }
  // The dense weight [out, in]: `weight`, or the quantised one restored to its dtype.
  at::Tensor dense_weight() const { return quant ? quant->dequantize(quant->dtype) : weight; }

  // x [..., in] -> [..., out]
  at::Tensor forward(const at::Tensor& x, const ForwardMode& mode) const;
};

}  // namespace prefer::model
