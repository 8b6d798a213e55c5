// LoRA adapters on the linear layers of a CausalLM, compatible with PEFT: the same hyper-parameters
// (r, lora_alpha, lora_dropout, target_modules incl. "all-linear", use_rslora), the same initialisation
// (A kaiming-uniform, B zero), and PEFT's files: adapter_config.json (peft_type LORA, task_type
// CAUSAL_LM or SEQ_CLS) and adapter_model.safetensors with keys such as
// base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight.
//
// The adapters live inside the base model's Linear layers, so the reference forward of DPO/KTO/PPO is
// the same model with adapters switched off (AdaptersDisabled in causal_lm.h): no second copy.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace prefer::model {

class CausalLM;

struct LoraConfig {
  int64_t r = 8;
  double lora_alpha = 8;
  double lora_dropout = 0.0;
  // Module names matched as PEFT does: a name equal to the module's full name or its last component
  // ("q_proj"); {"all-linear"} = every linear layer of the decoder (not lm_head / score). Empty = PEFT's
  // default for these architectures, {"q_proj", "v_proj"}.
  std::vector<std::string> target_modules;
  // PEFT's string form instead: a regular expression that must match the whole module name.
  std::string target_regex;
  bool use_rslora = false;  // scale lora_alpha / sqrt(r) instead of lora_alpha / r
  std::string task_type = "CAUSAL_LM";  // or "SEQ_CLS": the score head is then trained and saved whole
  std::string base_model_name_or_path;  // written to adapter_config.json

  double scale() const;
};

// Adds an adapter to every targeted linear layer (A [r, in] ~ U(-1/sqrt(in), 1/sqrt(in)) from `seed`,
// B [out, r] = 0, both trainable; float32 when the model computes in bf16/f16, as PEFT's
// autocast_adapter_dtype does). Returns the adapted module names. Errors when nothing matches.
std::vector<std::string> add_lora(CausalLM& model, const LoraConfig& config, uint64_t seed = 0);

bool has_lora(const CausalLM& model);

// Whether `config` adapts the linear module (e.g. "model.layers.0.self_attn.q_proj"), as add_lora decides.
bool lora_targets(const LoraConfig& config, const std::string& module);

// The adapter weights under PEFT's saved names (plus base_model.model.score.weight for SEQ_CLS), in
// module order. These are the trainable parameters of a LoRA run.
std::vector<std::pair<std::string, at::Tensor>> lora_parameters(const CausalLM& model, const LoraConfig& config);

// Writes adapter_config.json and adapter_model.safetensors into `dir` (created if needed).
void save_adapter(const CausalLM& model, const LoraConfig& config, const std::filesystem::path& dir);

// Reads adapter_config.json; unsupported PEFT features (DoRA, bias training, rank/alpha patterns,
// layers_to_transform, other peft types) are errors naming the field.
LoraConfig read_adapter_config(const std::filesystem::path& dir);

// Adds adapters as the folder's config says and fills them from adapter_model.safetensors; missing,
// unexpected or mis-shaped tensors are errors naming them. A SEQ_CLS adapter brings its score head: into
// the model (which becomes a classifier), or into *score_head when given, leaving the model's LM head in
// place (PPO's reward adapter on the policy's base).
LoraConfig load_adapter(CausalLM& model, const std::filesystem::path& dir, at::Tensor* score_head = nullptr);

// W += scale * B A for every adapter (in float32, then rounded to the weight dtype) and removes the
// adapters: the model then computes what the adapted model computed, without LoRA.
void merge_lora(CausalLM& model);

// Removes every adapter without merging.
void remove_lora(CausalLM& model);

}  // namespace prefer::model
