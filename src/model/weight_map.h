// Which tensors a Hugging Face checkpoint of each architecture holds, under which names and shapes,
// and where each one lives in our modules. The tables are data (weight_map.cpp), one per architecture;
// everything that loads, saves, enumerates or LoRA-targets weights goes through them.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "io/hf_config.h"

namespace prefer::model {

// A parameter's place in CausalLM. Per-layer slots are combined with a layer index.
enum class Slot : uint8_t {
  Embed, FinalNorm, LmHead, Score,  // model-level
  InputNorm, PostNorm,              // per layer from here on
  QProj, QBias, KProj, KBias, VProj, VBias, OProj, OBias, QNorm, KNorm,
  GateProj, GateBias, UpProj, UpBias, DownProj, DownBias,
};

bool is_per_layer(Slot s);

// One concrete tensor of a model: its HF name, shape and slot.
struct WeightSpec {
  std::string name;            // "model.layers.3.self_attn.q_proj.weight"
  Slot slot = Slot::Embed;
  int64_t layer = -1;          // -1 for model-level slots
  std::vector<int64_t> shape;  // [out, in] for linear weights
};

// Every tensor a checkpoint of this config must hold, in HF order (embeddings, layers, norm, head).
// A tied causal LM has no lm_head.weight (the embedding matrix is reused); a sequence-classification
// model has score.weight [num_labels, hidden] and no lm_head.
std::vector<WeightSpec> weight_specs(const io::ModelConfig& config);

// The HF module name of a linear slot, e.g. "model.layers.3.self_attn.q_proj" (LoRA targets and PEFT
// key names are built from it). Empty for slots that are not linear weights.
std::string linear_module_name(Slot weight_slot, int64_t layer);
// The short module name PEFT matches target_modules against ("q_proj", "gate_proj", ...).
std::string linear_short_name(Slot weight_slot);
// The linear weight slots of one decoder layer, in HF order.
const std::vector<Slot>& layer_linear_slots();

// Names of tensors old checkpoints carry that HF ignores on load (e.g. rotary_emb.inv_freq buffers).
bool is_ignored_checkpoint_tensor(const std::string& name);

}  // namespace prefer::model
