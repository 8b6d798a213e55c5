// Rotary position embeddings, "rotate half" layout, with HF's `linear` and `llama3` rope scaling.
#pragma once

#include <ATen/core/Tensor.h>

#include "io/hf_config.h"

namespace prefer::model {

// inv_freq [head_dim / 2], float32, computed as transformers does (float32 arithmetic:
// 1 / theta^(arange(0, D, 2) / D)), then rewritten by the config's rope scaling:
//   linear: inv_freq / factor (the same as dividing positions by factor);
//   llama3: by wavelength band (see ../shared/fixtures/models/README.md).
at::Tensor rope_inv_freq(const io::ModelConfig& config);

// cos and sin [B, T, head_dim] for position ids [B, T] (int64), in `dtype`. The angles
// position * inv_freq are formed in float64 (positions are exact there), then rounded.
struct RopeTables {
  at::Tensor cos;
  at::Tensor sin;
};
RopeTables rope_tables(const at::Tensor& inv_freq, const at::Tensor& positions, at::ScalarType dtype);

// x [B, T, heads, D] rotated by tables [B, T, D]:
// out[..d] = x[d] cos - x[d + D/2] sin, out[d + D/2] = x[d + D/2] cos + x[d] sin.
at::Tensor apply_rope(const at::Tensor& x, const RopeTables& tables);

}  // namespace prefer::model
