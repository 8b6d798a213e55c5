// A CausalLM with a quantised frozen base (QLoRA): which linear layers are quantised and how, under
// the names of transformers' BitsAndBytesConfig, and the model-level operations on them.
//
// The decoder's linear layers (q/k/v/o, gate/up/down) are quantised; embeddings, norms and the LM or
// score head stay in the model's dtype (bitsandbytes' default), as do the modules named in
// llm_int8_skip_modules. Only LoRA adapters train on such a base; the reference with adapters off is the
// quantised base itself, as in QLoRA and TRL.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "model/causal_lm.h"
#include "model/quantize.h"
#include "util/json.h"

namespace prefer::model {

struct QuantizationConfig {
  bool load_in_4bit = false;
  bool load_in_8bit = false;
  QuantType bnb_4bit_quant_type = QuantType::NF4;  // nf4 | fp4
  bool bnb_4bit_use_double_quant = false;
  at::ScalarType bnb_4bit_compute_dtype = at::kFloat;  // bitsandbytes' default; the seed's recipe says bfloat16
  std::vector<std::string> llm_int8_skip_modules;      // module names (full or last component) kept dense
  // The checkpoint holds bitsandbytes' packed tensors already (config.json's quantization_config).
  bool prequantized = false;

  bool enabled() const { return load_in_4bit || load_in_8bit; }
  // Errors for contradictory settings (both 4 and 8 bit), naming the option.
  void validate() const;
  // Whether the linear module (e.g. "model.layers.0.mlp.down_proj") is quantised.
  bool quantizes(const std::string& module) const;
  // The per-layer options; an 8-bit layer computes in the model's dtype.
  QuantizeOptions options(at::ScalarType model_dtype) const;
  // "4-bit nf4 + double quant, compute bfloat16" / "8-bit int8" / "none"
  std::string describe() const;
  // Bytes a weight of `numel` values takes when quantised (codes and constants), for memory plans.
  double bytes_per_weight() const;
};

// Reads config.json's quantization_config: absent = not quantised; bitsandbytes = a prequantized
// config; any other quant_method (gptq, awq, ...) is an error naming it.
QuantizationConfig checkpoint_quantization(const Json& raw_config, const std::filesystem::path& config_file);

// Quantises every dense linear layer the config selects (in place; the dense weights are freed).
void quantize_model(CausalLM& model, const QuantizationConfig& config);
// Restores every quantised layer to a dense weight in its dtype (lossy: the quantisation error stays).
void dequantize_model(CausalLM& model);
bool is_quantized(const CausalLM& model);
// Bytes of the quantised layers' storage.
uint64_t quantized_bytes(const CausalLM& model);

}  // namespace prefer::model
