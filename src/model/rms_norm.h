// RMSNorm as transformers computes it: the normalisation in float32 (float64 for a float64 model),
//   Llama/Mistral/Qwen: cast back to the input dtype, then multiply by w;
//   Gemma (plus_one):   multiply by (1 + w) in float32, then cast back.
#pragma once

#include <ATen/core/Tensor.h>

namespace prefer::model {

// x [..., N], weight [N] -> [..., N] in x's dtype.
at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& weight, double eps, bool plus_one);
// The same, rounded to `out` (the dtype the next GEMM reads): rms_norm(...).to(out), in one pass for
// a bf16 output on the CPU (fused_kernels.h).
at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& weight, double eps, bool plus_one, at::ScalarType out);

}  // namespace prefer::model
