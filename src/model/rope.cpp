#include "model/rope.h"

#include <ATen/ATen.h>

#include <cmath>

namespace prefer::model {

at::Tensor rope_inv_freq(const io::ModelConfig& c) {
  const int64_t dim = c.head_dim;
  // transformers: 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.int64).float() / dim)), float32.
  at::Tensor exponent = at::arange(0, dim, 2, at::TensorOptions().dtype(at::kLong)).to(at::kFloat) / static_cast<double>(dim);
  // Python's `scalar / tensor` is `tensor.reciprocal() * scalar`; written the same way for equal rounding.
  at::Tensor inv_freq = at::pow(c.rope_theta, exponent).reciprocal();
  const io::RopeScaling& s = c.rope_scaling;
  if (s.type == "linear") {
    inv_freq = inv_freq / s.factor;
  } else if (s.type == "llama3") {
    // transformers' _compute_llama3_parameters, float32 tensors throughout.
    const double old_len = static_cast<double>(s.original_max_position_embeddings);
    const double low_freq_wavelen = old_len / s.low_freq_factor;
    const double high_freq_wavelen = old_len / s.high_freq_factor;
    at::Tensor wavelen = inv_freq.reciprocal() * (2.0 * M_PI);
    at::Tensor scaled = at::where(wavelen > low_freq_wavelen, inv_freq / s.factor, inv_freq);
    at::Tensor smooth = (wavelen.reciprocal() * old_len - s.low_freq_factor) / (s.high_freq_factor - s.low_freq_factor);
    at::Tensor smoothed = (1 - smooth) * scaled / s.factor + smooth * scaled;
    at::Tensor medium = at::logical_not(wavelen < high_freq_wavelen).logical_and(at::logical_not(wavelen > low_freq_wavelen));
    inv_freq = at::where(medium, smoothed, scaled);
  }
  return inv_freq;
}

RopeTables rope_tables(const at::Tensor& inv_freq, const at::Tensor& positions, at::ScalarType dtype) {
  // angles [B, T, D/2] in float64, then duplicated to [B, T, D] as HF's cat((freqs, freqs), -1).
  at::Tensor freq = inv_freq.to(positions.device(), at::kDouble);
  at::Tensor angles = positions.to(at::kDouble).unsqueeze(-1) * freq;
  at::Tensor emb = at::cat({angles, angles}, -1);
  return {emb.cos().to(dtype), emb.sin().to(dtype)};
}

at::Tensor apply_rope(const at::Tensor& x, const RopeTables& t) {
  // x [B, T, heads, D]; tables broadcast over heads.
  const int64_t half = x.size(-1) / 2;
  at::Tensor x1 = x.narrow(-1, 0, half);
  at::Tensor x2 = x.narrow(-1, half, half);
  at::Tensor rotated = at::cat({-x2, x1}, -1);
  return x * t.cos.unsqueeze(2) + rotated * t.sin.unsqueeze(2);
}

}  // namespace prefer::model
