#include "model/decoder_layer.h"

#include <ATen/ATen.h>

#include <cmath>

#include "model/attention.h"
#include "model/kv_cache.h"
#include "model/rms_norm.h"

namespace prefer::model {

namespace {

at::Tensor self_attention(const SelfAttention& a, const at::Tensor& h, const LayerInputs& in) {
  const io::ModelConfig& c = *in.config;
  const int64_t B = h.size(0), T = h.size(1), D = c.head_dim;
  // [B, T, heads, D]: heads split as HF's view(hidden_shape); q/k norms act on each head's D values.
  at::Tensor q = a.q.forward(h, in.mode).view({B, T, c.num_attention_heads, D});
  at::Tensor k = a.k.forward(h, in.mode).view({B, T, c.num_key_value_heads, D});
  at::Tensor v = a.v.forward(h, in.mode).view({B, T, c.num_key_value_heads, D});
  if (a.q_norm.defined()) {
    q = rms_norm(q, a.q_norm, c.rms_norm_eps, c.norm_plus_one);
    k = rms_norm(k, a.k_norm, c.rms_norm_eps, c.norm_plus_one);
  }
  q = apply_rope(q, *in.rope).transpose(1, 2);  // [B, Hq, T, D]
  k = apply_rope(k, *in.rope).transpose(1, 2);  // [B, Hkv, T, D]
  v = v.transpose(1, 2);
  if (in.cache) std::tie(k, v) = in.cache->append(in.index, k, v);  // [B, Hkv, cached + T, D]
  // head_dim ** -0.5 as HF writes it (for D = 24, pow and 1/sqrt differ in the last bit).
  at::Tensor out = attend(q, k, v, *in.bias, std::pow(static_cast<double>(D), -0.5), in.causal_offset,
                          in.key_begin ? *in.key_begin : at::Tensor());  // [B, T, Hq*D]
  return a.o.forward(out, in.mode);
}

}  // namespace

at::Tensor decoder_layer_forward(const DecoderLayer& layer, const at::Tensor& x, const LayerInputs& in) {
  const io::ModelConfig& c = *in.config;
  at::Tensor h = rms_norm(x, layer.input_norm, c.rms_norm_eps, c.norm_plus_one);
  at::Tensor y = x + self_attention(layer.attn, h, in);
  h = rms_norm(y, layer.post_norm, c.rms_norm_eps, c.norm_plus_one);
  return y + layer.mlp.forward(h, c.activation, in.mode);
}

}  // namespace prefer::model
