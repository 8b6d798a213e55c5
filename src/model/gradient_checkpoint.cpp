#include "model/gradient_checkpoint.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/custom_function.h>

#include <cstdint>
#include <vector>

#include "util/error.h"

namespace prefer::model {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// The tensors of a layer that may carry gradients, in a fixed order.
std::vector<at::Tensor> trainable_tensors(const DecoderLayer& L) {
  std::vector<at::Tensor> out;
  auto add = [&](const at::Tensor& t) {
    if (t.defined() && t.requires_grad()) out.push_back(t);
  };
  add(L.input_norm);
  add(L.post_norm);
  add(L.attn.q_norm);
  add(L.attn.k_norm);
  for (const Linear* lin : {&L.attn.q, &L.attn.k, &L.attn.v, &L.attn.o, &L.mlp.gate, &L.mlp.up, &L.mlp.down}) {
    add(lin->weight);
    add(lin->bias);
    if (lin->lora) {
      add(lin->lora->A);
      add(lin->lora->B);
    }
  }
  return out;
}

at::Generator device_generator(const at::Device& d) { return at::globalContext().defaultGenerator(d); }

// Inputs: x, then the layer's trainable tensors (so autograd routes their gradients through this node),
// then the layer and the per-forward inputs, which are not differentiable.
struct CheckpointedLayer : public torch::autograd::Function<CheckpointedLayer> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, at::TensorList params, const DecoderLayer* layer,
                            const LayerInputs* in) {
    // What backward needs to rebuild LayerInputs: the rope tables, the bias and key_spans tensors (owned
    // here, the caller's are locals) and the scalars. The layer and config pointers stay valid: they are
    // the model's.
    at::Generator gen = device_generator(x.device());
    ctx->save_for_backward({x, in->rope->cos, in->rope->sin, in->bias ? *in->bias : at::Tensor(),
                            in->key_spans ? *in->key_spans : at::Tensor()});
    {
      std::lock_guard<std::mutex> lock(gen.mutex());
      ctx->saved_data["rng"] = gen.get_state();
    }
    ctx->saved_data["layer"] = reinterpret_cast<int64_t>(layer);
    ctx->saved_data["config"] = reinterpret_cast<int64_t>(in->config);
    ctx->saved_data["index"] = in->index;
    ctx->saved_data["causal_offset"] = in->causal_offset;
    ctx->saved_data["adapters"] = in->mode.adapters;
    ctx->saved_data["training"] = in->mode.training;
    ctx->saved_data["compute"] = static_cast<int64_t>(in->compute);  // mixed precision: the GEMMs' dtype
    ctx->saved_data["params"] = static_cast<int64_t>(params.size());
    return decoder_layer_forward(*layer, x, *in);
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    auto s = ctx->get_saved_variables();
    const auto* layer = reinterpret_cast<const DecoderLayer*>(ctx->saved_data["layer"].toInt());
    RopeTables rope{s[1], s[2]};
    at::Tensor bias = s[3], key_spans = s[4];
    LayerInputs in;
    in.config = reinterpret_cast<const io::ModelConfig*>(ctx->saved_data["config"].toInt());
    in.rope = &rope;
    in.bias = &bias;
    in.key_spans = key_spans.defined() ? &key_spans : nullptr;
    in.index = ctx->saved_data["index"].toInt();
    in.causal_offset = ctx->saved_data["causal_offset"].toInt();
    in.mode.adapters = ctx->saved_data["adapters"].toBool();
    in.mode.training = ctx->saved_data["training"].toBool();
    in.compute = static_cast<at::ScalarType>(ctx->saved_data["compute"].toInt());

    at::Tensor x = s[0].detach().requires_grad_(s[0].requires_grad());
    std::vector<at::Tensor> params = trainable_tensors(*layer);
    const auto n = static_cast<size_t>(ctx->saved_data["params"].toInt());
    if (params.size() != n) throw Error("a layer's trainable tensors changed between forward and backward");

    // Recompute under the forward's random state, then put the generator back where it was.
    at::Generator gen = device_generator(x.device());
    at::Tensor now;
    {
      std::lock_guard<std::mutex> lock(gen.mutex());
      now = gen.get_state();
      gen.set_state(ctx->saved_data["rng"].toTensor());
    }
    at::Tensor y;
    {
      at::AutoGradMode on(true);
      y = decoder_layer_forward(*layer, x, in);
    }
    {
      std::lock_guard<std::mutex> lock(gen.mutex());
      gen.set_state(now);
    }

    std::vector<at::Tensor> wrt;
    if (x.requires_grad()) wrt.push_back(x);
    for (const at::Tensor& p : params) wrt.push_back(p);
    variable_list g = wrt.empty() ? variable_list{} : torch::autograd::grad({y}, wrt, {grads[0]}, false, false, true);
    variable_list out;
    size_t k = 0;
    out.push_back(x.requires_grad() ? g[k++] : at::Tensor());
    for (size_t i = 0; i < n; ++i) out.push_back(g[k++]);
    out.push_back(at::Tensor());  // layer
    out.push_back(at::Tensor());  // in
    return out;
  }
};

}  // namespace

at::Tensor checkpointed_layer_forward(const DecoderLayer& layer, const at::Tensor& x, const LayerInputs& in) {
  if (in.cache) throw Error("gradient checkpointing runs without a KV cache");
  std::vector<at::Tensor> params = trainable_tensors(layer);
  if (!x.requires_grad() && params.empty()) return decoder_layer_forward(layer, x, in);
  return CheckpointedLayer::apply(x, at::TensorList(params), &layer, &in);
}

}  // namespace prefer::model
