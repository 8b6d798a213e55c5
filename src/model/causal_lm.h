// A Hugging Face decoder-only transformer (Llama, Mistral, Qwen2, Qwen3, Gemma) in LibTorch.
//
// forward(ids, positions, layout) returns the final hidden states [B, T, hidden] (after the final norm);
// heads apply on top: the LM head (logits(), or the scorer, which only multiplies response positions),
// or the scalar head of reward/value models (scalar_head.h). Parameters are plain at::Tensors reachable
// by their HF names through the architecture's weight table (weight_map.h).
#pragma once

#include <ATen/core/Tensor.h>

#include <filesystem>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "io/hf_config.h"
#include "model/attention.h"
#include "model/decoder_layer.h"
#include "model/weight_map.h"
#include "util/json.h"

namespace prefer::model {

class KvCache;

struct ModelOptions {
  at::ScalarType dtype = at::kFloat;  // compute and storage dtype of the weights
  at::Device device = at::kCPU;
  // Allocate (uninitialised) weights now; the loader says false and fills every slot itself, so a big
  // model is never held twice.
  bool allocate = true;
};

class CausalLM {
 public:
  // A model with this architecture and uninitialised weights (the loader or a test fills them).
  explicit CausalLM(io::ModelConfig config, const ModelOptions& options = {});
  CausalLM(CausalLM&&) = default;
  CausalLM& operator=(CausalLM&&) = default;
  CausalLM(const CausalLM&) = delete;
  CausalLM& operator=(const CausalLM&) = delete;

  const io::ModelConfig& config() const { return config_; }
  at::ScalarType dtype() const { return dtype_; }
  at::Device device() const { return device_; }

  // The config.json object the model was read from (empty when built from a config struct) and the
  // folder it came from; saving writes the object back with updated fields and copies tokenizer files.
  const Json& raw_config() const { return raw_config_; }
  void set_raw_config(Json j) { raw_config_ = std::move(j); }
  const std::filesystem::path& source_dir() const { return source_dir_; }
  void set_source_dir(std::filesystem::path dir) { source_dir_ = std::move(dir); }

  // ids [B, T] int64, positions [B, T] int64 (explicit; see attention.h for the layout)
  // -> hidden [B, T, hidden] in the compute dtype. With a cache, ids are the tokens after the cached
  // ones and the layout's key_mask covers only them; the cache is extended.
  at::Tensor forward(const at::Tensor& ids, const at::Tensor& positions, const AttentionLayout& layout,
                     KvCache* cache = nullptr) const;

  // [V, hidden] in the compute dtype: lm_head.weight, or the embedding matrix for tied models (a
  // differentiable cast of the float32 embeddings under mixed precision).
  at::Tensor lm_head_weight() const;
  // Full logits [..., V] (compute dtype) for the given hidden states. For log-probs over many positions
  // use score() (scorer.h), which never builds them for all positions.
  at::Tensor logits(const at::Tensor& hidden) const;

  // Base weights counted (quantised layers by their dense size).
  int64_t parameter_count() const;
  // Every base weight under its HF name, in checkpoint order (no lm_head.weight when tied). A quantised
  // linear layer's entry is undefined (its weight is Linear::quant).
  std::vector<std::pair<std::string, at::Tensor>> named_parameters() const;
  const std::vector<WeightSpec>& weight_specs() const { return specs_; }
  at::Tensor& slot(Slot s, int64_t layer = -1);
  const at::Tensor& slot(Slot s, int64_t layer = -1) const;
  // The linear layer whose weight is in `weight_slot` (QProj ... DownProj); null for other slots.
  Linear* linear(Slot weight_slot, int64_t layer);
  const std::vector<DecoderLayer>& layers() const { return layers_; }

  // Turns sequence classification on (score.weight [num_labels, hidden], allocated uninitialised
  // unless it exists with that shape) or back to the LM head (tied models reuse the embeddings; an
  // untied model needs lm_head.weight set afterwards).
  void set_head(io::HeadKind head, int64_t num_labels = 1);

  // Grows the vocabulary to `vocab_size` rows (new special tokens): the embedding matrix and an untied
  // LM head get new rows equal to the mean of the existing ones (transformers' mean_resizing, without
  // its noise, so the run stays deterministic); config vocab_size follows. Never shrinks.
  void resize_token_embeddings(int64_t vocab_size);

  // Converts every weight (LoRA adapters included), keeping requires_grad.
  void to(at::ScalarType dtype, at::Device device);
  void to(at::ScalarType dtype) { to(dtype, device_); }
  // requires_grad on every base weight (LoRA adapters are switched separately, see lora.h).
  void set_requires_grad(bool on);

  // Whether LoRA adapters take part in forward (off = the base model) and whether dropout is active.
  ForwardMode mode() const { return mode_; }
  void set_adapters_enabled(bool on) { mode_.adapters = on; }
  void set_training(bool on) { mode_.training = on; }
  // Gradient checkpointing: a forward with autograd on keeps only each decoder layer's input and
  // recomputes the layer in backward (gradient_checkpoint.h).
  bool gradient_checkpointing() const { return checkpoint_; }
  void set_gradient_checkpointing(bool on) { checkpoint_ = on; }
  // Mixed precision, as autocast computes a float32 model in bf16/f16: the linear layers keep the
  // compute dtype, while the embeddings, every norm weight and the residual stream between layers are
  // float32 (a norm's output is rounded to the compute dtype where a GEMM reads it; RoPE runs in
  // float32). Small updates to the embeddings and norms then survive (in the compute dtype they round
  // away) and the elementwise work along the residual stream runs in float32. A no-op for float32 and
  // float64 models. Saving still writes the compute dtype.
  bool mixed_precision() const { return mixed_; }
  void set_mixed_precision(bool on);
  // The dtype a weight slot holds: float32 for the islands under mixed precision, else dtype().
  at::ScalarType slot_dtype(Slot s) const;

  // The float32 values of bf16/f16 weights as a float32 checkpoint held them (LoadOptions::
  // keep_full_precision), kept until the optimizer starts its float32 masters from them: a master made
  // from the rounded weight would lose what autocast's float32 weights keep, and a first update smaller
  // than half an ulp would then never move the weight. Keyed by the weight tensor; `take` hands one over
  // (undefined if none), `drop` frees the rest; to(), set_mixed_precision and resize_token_embeddings,
  // which replace weights, drop them too.
  void keep_full_precision(const at::Tensor& weight, at::Tensor value);
  at::Tensor take_full_precision(const at::Tensor& weight);
  void drop_full_precision() { full_precision_.clear(); }

 private:
  std::vector<at::Tensor*> float32_islands();

  io::ModelConfig config_;
  Json raw_config_;
  std::filesystem::path source_dir_;
  at::ScalarType dtype_;
  at::Device device_;
  std::vector<WeightSpec> specs_;
  at::Tensor embed_;       // [V, hidden]
  std::vector<DecoderLayer> layers_;
  at::Tensor final_norm_;  // [hidden]
  at::Tensor lm_head_;     // [V, hidden], undefined when tied or for a classifier
  at::Tensor score_;       // [num_labels, hidden], sequence classification only
  at::Tensor inv_freq_;    // [head_dim / 2] float32 (CPU)
  ForwardMode mode_;
  bool checkpoint_ = false;
  bool mixed_ = false;
  // weight -> {the weight (so its address is not reused while keyed), [same shape] float32}
  std::unordered_map<const c10::TensorImpl*, std::pair<at::Tensor, at::Tensor>> full_precision_;
};

// Switches a model's adapters off for a scope (the reference forward of DPO/KTO/PPO with LoRA).
class AdaptersDisabled {
 public:
  explicit AdaptersDisabled(CausalLM& m) : model_(m), was_(m.mode().adapters) { m.set_adapters_enabled(false); }
  ~AdaptersDisabled() { model_.set_adapters_enabled(was_); }
  AdaptersDisabled(const AdaptersDisabled&) = delete;
  AdaptersDisabled& operator=(const AdaptersDisabled&) = delete;

 private:
  CausalLM& model_;
  bool was_;
};

// HF's rule for position ids from a 0/1 attention mask [B, T]: cumsum - 1 along the row, padding slots
// set to 1, so real tokens count 0, 1, 2, ... from their first real token whatever the padding side.
at::Tensor position_ids_from_mask(const at::Tensor& mask);

}  // namespace prefer::model
