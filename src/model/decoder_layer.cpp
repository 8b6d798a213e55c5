#include "model/decoder_layer.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/custom_function.h>

#include <cmath>

#include "model/attention.h"
#include "model/fused_kernels.h"
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
  // Float32 tables (mixed precision) give float32 results, rounded back as autocast's matmul would.
  q = apply_rope(q, *in.rope).to(in.compute).transpose(1, 2);  // [B, Hq, T, D]
  k = apply_rope(k, *in.rope).to(in.compute).transpose(1, 2);  // [B, Hkv, T, D]
  v = v.transpose(1, 2);
  if (in.cache) std::tie(k, v) = in.cache->append(in.index, k, v);  // [B, Hkv, cached + T, D]
  // head_dim ** -0.5 as HF writes it (for D = 24, pow and 1/sqrt differ in the last bit).
  at::Tensor out = attend(q, k, v, *in.bias, std::pow(static_cast<double>(D), -0.5), in.causal_offset,
                          in.key_spans ? *in.key_spans : at::Tensor());  // [B, T, Hq*D]
  return a.o.forward(out, in.mode);
}

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// x (float32 residual stream) + branch (bf16) -> float32 in one pass; the branch's gradient is the
// stream's, rounded to bf16 (what autograd's promoting add gives, without its cast copies).
struct ResidualAdd : public torch::autograd::Function<ResidualAdd> {
  static at::Tensor forward(AutogradContext*, const at::Tensor& x, const at::Tensor& branch) {
    return fused::add_float_bf16(x, branch);
  }
  static variable_list backward(AutogradContext*, variable_list grads) {
    return {grads[0], fused::convert(grads[0], at::kBFloat16)};
  }
};

at::Tensor residual_add(const at::Tensor& x, const at::Tensor& branch) {
  if (x.scalar_type() != at::kFloat || !x.is_contiguous() || x.device().type() != at::kCPU || !fused::eligible({branch}) ||
      x.sizes() != branch.sizes())
    return x + branch;
  if (at::GradMode::is_enabled() && (x.requires_grad() || branch.requires_grad())) return ResidualAdd::apply(x, branch);
  return fused::add_float_bf16(x, branch);
}

}  // namespace

at::Tensor decoder_layer_forward(const DecoderLayer& layer, const at::Tensor& x, const LayerInputs& in) {
  const io::ModelConfig& c = *in.config;
  // x and y keep the residual stream's dtype (float32 under mixed precision: the adds promote).
  at::Tensor h = rms_norm(x, layer.input_norm, c.rms_norm_eps, c.norm_plus_one, in.compute);
  at::Tensor y = residual_add(x, self_attention(layer.attn, h, in));
  h = rms_norm(y, layer.post_norm, c.rms_norm_eps, c.norm_plus_one, in.compute);
  return residual_add(y, layer.mlp.forward(h, c.activation, in.mode));
}

}  // namespace prefer::model
