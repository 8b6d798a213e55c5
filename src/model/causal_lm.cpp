#include "model/causal_lm.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/custom_function.h>

#include <cmath>
#include <map>

#include "model/fused_kernels.h"
#include "model/gradient_checkpoint.h"
#include "model/kv_cache.h"
#include "model/rms_norm.h"
#include "model/rope.h"
#include "model/tensor_convert.h"
#include "util/error.h"

namespace prefer::model {

namespace {

void require_shape(const at::Tensor& t, const std::string& what, int64_t B, int64_t T) {
  if (t.dim() != 2 || t.size(0) != B || t.size(1) != T)
    throw Error("must be [" + std::to_string(B) + ", " + std::to_string(T) + "] like the token ids, found " +
                    c10::str(t.sizes()),
                {.field = what});
}

// t.to(dtype) for the tied LM head under mixed precision (float32 embeddings [V, H] read as bf16 every
// forward): the fused conversion both ways, ~5x ATen 1.13's copy kernel; the gradient comes back in
// t's dtype, as autograd's cast gives it.
struct HeadCast : public torch::autograd::Function<HeadCast> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& t, at::ScalarType dtype) {
    ctx->saved_data["from"] = static_cast<int64_t>(t.scalar_type());
    return fused::convert(t.contiguous(), dtype);
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx, torch::autograd::variable_list g) {
    const auto from = static_cast<at::ScalarType>(ctx->saved_data["from"].toInt());
    return {fused::convert(g[0].contiguous(), from), at::Tensor()};
  }
};

at::Tensor head_cast(const at::Tensor& t, at::ScalarType dtype) {
  if (t.scalar_type() == dtype) return t;
  if (at::GradMode::is_enabled() && t.requires_grad()) return HeadCast::apply(t, dtype);
  return fused::convert(t.contiguous(), dtype);
}

}  // namespace

CausalLM::CausalLM(io::ModelConfig config, const ModelOptions& options)
    : config_(std::move(config)), dtype_(options.dtype), device_(options.device) {
  if (config_.num_key_value_heads <= 0 || config_.num_attention_heads % config_.num_key_value_heads != 0)
    throw Error("num_attention_heads must be a multiple of num_key_value_heads", {.field = "num_key_value_heads"});
  layers_.resize(static_cast<size_t>(config_.num_hidden_layers));
  for (size_t l = 0; l < layers_.size(); ++l) layers_[l].window = config_.layer_window.size() > l ? config_.layer_window[l] : 0;
  specs_ = model::weight_specs(config_);
  const auto opts = at::TensorOptions().dtype(dtype_).device(device_);
  if (options.allocate)
    for (const WeightSpec& w : specs_) slot(w.slot, w.layer) = at::empty(w.shape, opts);
  inv_freq_ = rope_inv_freq(config_);
}

at::Tensor& CausalLM::slot(Slot s, int64_t l) {
  return const_cast<at::Tensor&>(static_cast<const CausalLM&>(*this).slot(s, l));
}

const at::Tensor& CausalLM::slot(Slot s, int64_t l) const {
  if (is_per_layer(s) && (l < 0 || l >= static_cast<int64_t>(layers_.size())))
    throw Error("layer index " + std::to_string(l) + " out of range");
  const DecoderLayer* L = is_per_layer(s) ? &layers_[static_cast<size_t>(l)] : nullptr;
  switch (s) {
    case Slot::Embed: return embed_;
    case Slot::FinalNorm: return final_norm_;
    case Slot::LmHead: return lm_head_;
    case Slot::Score: return score_;
    case Slot::InputNorm: return L->input_norm;
    case Slot::PostNorm: return L->post_norm;
    case Slot::QProj: return L->attn.q.weight;
    case Slot::QBias: return L->attn.q.bias;
    case Slot::KProj: return L->attn.k.weight;
    case Slot::KBias: return L->attn.k.bias;
    case Slot::VProj: return L->attn.v.weight;
    case Slot::VBias: return L->attn.v.bias;
    case Slot::OProj: return L->attn.o.weight;
    case Slot::OBias: return L->attn.o.bias;
    case Slot::QNorm: return L->attn.q_norm;
    case Slot::KNorm: return L->attn.k_norm;
    case Slot::GateProj: return L->mlp.gate.weight;
    case Slot::GateBias: return L->mlp.gate.bias;
    case Slot::UpProj: return L->mlp.up.weight;
    case Slot::UpBias: return L->mlp.up.bias;
    case Slot::DownProj: return L->mlp.down.weight;
    case Slot::DownBias: return L->mlp.down.bias;
  }
  throw Error("unknown weight slot");
}

Linear* CausalLM::linear(Slot s, int64_t l) {
  if (!is_per_layer(s) || l < 0 || l >= static_cast<int64_t>(layers_.size())) return nullptr;
  DecoderLayer& L = layers_[static_cast<size_t>(l)];
  switch (s) {
    case Slot::QProj: return &L.attn.q;
    case Slot::KProj: return &L.attn.k;
    case Slot::VProj: return &L.attn.v;
    case Slot::OProj: return &L.attn.o;
    case Slot::GateProj: return &L.mlp.gate;
    case Slot::UpProj: return &L.mlp.up;
    case Slot::DownProj: return &L.mlp.down;
    default: return nullptr;
  }
}

int64_t CausalLM::parameter_count() const {
  int64_t n = 0;
  for (const WeightSpec& w : specs_) {
    const at::Tensor& t = slot(w.slot, w.layer);
    if (t.defined()) {
      n += t.numel();
    } else if (const Linear* lin = const_cast<CausalLM*>(this)->linear(w.slot, w.layer); lin && lin->quant) {
      n += lin->quant->numel();
    }
  }
  return n;
}

std::vector<std::pair<std::string, at::Tensor>> CausalLM::named_parameters() const {
  std::vector<std::pair<std::string, at::Tensor>> out;
  out.reserve(specs_.size());
  for (const WeightSpec& w : specs_) out.emplace_back(w.name, slot(w.slot, w.layer));
  return out;
}

at::Tensor CausalLM::lm_head_weight() const {
  if (config_.head != io::HeadKind::CausalLM)
    throw Error("this is a sequence-classification model (" + config_.architecture + "); it has no LM head",
                {.hint = "load the causal LM, or use the scalar head"});
  return config_.tie_word_embeddings ? head_cast(embed_, dtype_) : lm_head_;
}

at::Tensor CausalLM::logits(const at::Tensor& hidden) const { return at::matmul(hidden, lm_head_weight().t()); }

void CausalLM::resize_token_embeddings(int64_t n) {
  const int64_t V = config_.vocab_size;
  if (n <= V) return;
  drop_full_precision();
  at::NoGradGuard ng;
  auto grow = [&](at::Tensor& w) {
    const bool rg = w.requires_grad();
    at::Tensor mean = w.to(at::kDouble).mean(0, /*keepdim=*/true).to(w.scalar_type());  // [1, H]
    w = at::cat({w, mean.expand({n - V, w.size(1)})}, 0).contiguous();
    if (rg) w.set_requires_grad(true);
  };
  grow(embed_);
  if (lm_head_.defined()) grow(lm_head_);
  config_.vocab_size = n;
  if (raw_config_.is_object() && !raw_config_.empty()) raw_config_["vocab_size"] = n;
}

void CausalLM::set_head(io::HeadKind head, int64_t num_labels) {
  if (head == io::HeadKind::SequenceClassification && num_labels <= 0)
    throw Error("must be > 0", {.field = "num_labels"});
  config_.head = head;
  if (head == io::HeadKind::SequenceClassification) {
    config_.num_labels = num_labels;
    if (!score_.defined() || score_.size(0) != num_labels)
      score_ = at::empty({num_labels, config_.hidden_size}, at::TensorOptions().dtype(dtype_).device(device_));
    lm_head_ = at::Tensor();
  } else {
    score_ = at::Tensor();
    if (!config_.tie_word_embeddings && !lm_head_.defined())
      lm_head_ = at::empty({config_.vocab_size, config_.hidden_size}, at::TensorOptions().dtype(dtype_).device(device_));
  }
  // Rewrite the architecture name so a saved folder says what it holds.
  const std::string suffix = head == io::HeadKind::CausalLM ? "ForCausalLM" : "ForSequenceClassification";
  for (const std::string& old : {std::string("ForCausalLM"), std::string("ForSequenceClassification")}) {
    auto at = config_.architecture.rfind(old);
    if (at != std::string::npos && at + old.size() == config_.architecture.size()) {
      config_.architecture = config_.architecture.substr(0, at) + suffix;
      break;
    }
  }
  specs_ = model::weight_specs(config_);
}

void CausalLM::to(at::ScalarType dtype, at::Device device) {
  drop_full_precision();
  auto convert_to = [&](at::Tensor& t, at::ScalarType type) {
    if (!t.defined()) return;
    const bool rg = t.requires_grad();
    t = t.detach().to(device, type);
    if (rg) t.set_requires_grad(true);
  };
  auto convert = [&](at::Tensor& t) { convert_to(t, dtype); };
  convert(embed_);
  convert(final_norm_);
  convert(lm_head_);
  convert(score_);
  for (DecoderLayer& L : layers_) {
    for (at::Tensor* t : {&L.input_norm, &L.post_norm, &L.attn.q_norm, &L.attn.k_norm}) convert(*t);
    for (Linear* lin : {&L.attn.q, &L.attn.k, &L.attn.v, &L.attn.o, &L.mlp.gate, &L.mlp.up, &L.mlp.down}) {
      convert(lin->weight);
      if (lin->quant) {  // the packed codes move; dequantisation restores the new dtype
        QuantizedWeight q = lin->quant->to(device);
        q.dtype = dtype;
        lin->quant = std::make_shared<const QuantizedWeight>(std::move(q));
      }
      convert(lin->bias);
      if (lin->lora) {  // adapters stay float32 under a bf16/f16 base (see lora.h)
        convert_to(lin->lora->A, accumulate_type(dtype));
        convert_to(lin->lora->B, accumulate_type(dtype));
      }
    }
  }
  dtype_ = dtype;
  device_ = device;
  if (mixed_) set_mixed_precision(true);
}

// The float32 islands of mixed precision: embeddings and norm weights (lm_head and score are GEMMs).
std::vector<at::Tensor*> CausalLM::float32_islands() {
  std::vector<at::Tensor*> out = {&embed_, &final_norm_};
  for (DecoderLayer& L : layers_)
    for (at::Tensor* t : {&L.input_norm, &L.post_norm, &L.attn.q_norm, &L.attn.k_norm}) out.push_back(t);
  return out;
}

at::ScalarType CausalLM::slot_dtype(Slot s) const {
  const bool island = s == Slot::Embed || s == Slot::FinalNorm || s == Slot::InputNorm || s == Slot::PostNorm ||
                      s == Slot::QNorm || s == Slot::KNorm;
  return mixed_ && island ? at::kFloat : dtype_;
}

void CausalLM::keep_full_precision(const at::Tensor& weight, at::Tensor value) {
  full_precision_[weight.unsafeGetTensorImpl()] = {weight, std::move(value)};
}

at::Tensor CausalLM::take_full_precision(const at::Tensor& weight) {
  auto it = full_precision_.find(weight.unsafeGetTensorImpl());
  if (it == full_precision_.end()) return {};
  at::Tensor v = std::move(it->second.second);
  full_precision_.erase(it);
  return v;
}

void CausalLM::set_mixed_precision(bool on) {
  drop_full_precision();
  on = on && (dtype_ == at::kBFloat16 || dtype_ == at::kHalf);
  const at::ScalarType island = on ? at::kFloat : dtype_;
  for (at::Tensor* t : float32_islands()) {
    if (!t->defined() || t->scalar_type() == island) continue;
    const bool rg = t->requires_grad();
    *t = t->detach().to(island);
    if (rg) t->set_requires_grad(true);
  }
  mixed_ = on;
}

void CausalLM::set_requires_grad(bool on) {
  for (const WeightSpec& w : specs_) {
    at::Tensor& t = slot(w.slot, w.layer);
    if (t.defined() && t.requires_grad() != on) t.set_requires_grad(on);
  }
}

at::Tensor CausalLM::forward(const at::Tensor& ids_in, const at::Tensor& positions_in, const AttentionLayout& layout,
                             KvCache* cache) const {
  if (ids_in.dim() != 2) throw Error("token ids must be [batch, tokens], found " + c10::str(ids_in.sizes()), {.field = "input_ids"});
  const int64_t B = ids_in.size(0), T = ids_in.size(1);
  require_shape(positions_in, "position_ids", B, T);
  if (layout.key_mask.defined()) require_shape(layout.key_mask, "attention.key_mask", B, T);
  at::Tensor ids = ids_in.to(device_, at::kLong);
  at::Tensor pos = positions_in.to(device_, at::kLong);
  at::Tensor outside = ids.lt(0).logical_or(ids.ge(config_.vocab_size));
  if (ids.numel() > 0 && outside.any().item<bool>()) {  // one check (one device sync) per forward
    const int64_t bad = ids.masked_select(outside)[0].item<int64_t>();
    throw Error("token id " + std::to_string(bad) + " is outside the vocabulary (vocab_size " +
                    std::to_string(config_.vocab_size) + ")",
                {.field = "input_ids"});
  }

  // [B, T, hidden]; Gemma scales by sqrt(hidden) rounded to the compute dtype, as HF's normalizer tensor.
  at::Tensor x = at::embedding(embed_, ids);
  if (config_.scale_embeddings)
    x = x * at::scalar_tensor(std::sqrt(static_cast<double>(config_.hidden_size)), x.options());

  // Mixed precision computes RoPE in float32, as HF under autocast (its tables follow the float32 stream).
  const RopeTables rope = rope_tables(inv_freq_, pos, mixed_ ? at::kFloat : dtype_);

  // Keys: cached slots first, then the new tokens.
  const bool cached = cache != nullptr && !cache->empty();
  at::Tensor new_mask = layout.key_mask.defined() ? layout.key_mask.to(device_, at::kBool) : at::Tensor();
  if (cache && !new_mask.defined()) new_mask = at::ones({B, T}, at::TensorOptions().dtype(at::kBool).device(device_));
  at::Tensor k_pos = cached ? at::cat({cache->positions(), pos}, 1) : pos;
  at::Tensor k_mask = cached ? at::cat({cache->key_mask(), new_mask}, 1) : new_mask;
  const int64_t q_offset = cache ? cache->length() : 0;

  // One bias per distinct window, shared by the layers that use it.
  std::map<int64_t, at::Tensor> biases;
  const at::ScalarType softmax_dtype = accumulate_type(dtype_);
  for (const DecoderLayer& L : layers_)
    if (!biases.count(L.window))
      biases[L.window] = attention_bias(k_mask, layout.visibility, pos, k_pos, q_offset, L.window, softmax_dtype);

  LayerInputs in;
  // Causal by slot unless a visibility matrix lets some query see a later slot (then attention reads
  // every key for every query).
  in.causal_offset = q_offset;
  if (layout.visibility.defined()) {
    at::Tensor later = at::arange(k_pos.size(1), pos.options()).unsqueeze(0).gt(
        at::arange(q_offset, q_offset + T, pos.options()).unsqueeze(1));  // [T, Tk]: slot j after query i
    if (layout.visibility.to(device_, at::kBool).logical_and(later.unsqueeze(0)).any().item<bool>()) in.causal_offset = -1;
  }
  in.config = &config_;
  in.rope = &rope;
  in.cache = cache;
  in.mode = mode_;
  in.compute = dtype_;
  // Packed rows, prefix-shared rows and sliding windows: the keys each query sees, so attention skips the
  // slots of the examples before its own and, for a rejected completion, the chosen one.
  std::map<int64_t, at::Tensor> key_spans_by_window;
  for (auto& [w, b] : biases)
    if (!cached && (layout.visibility.defined() || w > 0) && attention_reads_key_spans(device_))
      key_spans_by_window[w] = visible_key_spans(b);
  for (size_t l = 0; l < layers_.size(); ++l) {
    in.index = static_cast<int64_t>(l);
    in.bias = &biases[layers_[l].window];
    in.key_spans = key_spans_by_window.count(layers_[l].window) ? &key_spans_by_window[layers_[l].window] : nullptr;
    x = checkpoint_ && !cache && at::GradMode::is_enabled() ? checkpointed_layer_forward(layers_[l], x, in)
                                                           : decoder_layer_forward(layers_[l], x, in);
  }
  if (cache) cache->commit(pos, new_mask);
  return rms_norm(x, final_norm_, config_.rms_norm_eps, config_.norm_plus_one, dtype_);
}

at::Tensor position_ids_from_mask(const at::Tensor& mask) {
  at::Tensor m = mask.to(at::kLong);
  at::Tensor pos = m.cumsum(1) - 1;
  return pos.masked_fill(m.eq(0), 1);
}

}  // namespace prefer::model
