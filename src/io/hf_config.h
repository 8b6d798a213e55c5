// config.json of a Hugging Face causal LM, read into one typed struct.
//
// Accepts the transformers 4.x field names (`torch_dtype`, `rope_theta`, `rope_scaling`) and the 5.x ones
// (`dtype`, `rope_parameters`). Defaults are those of the transformers config class of each model type,
// so a config that omits a field means what it means to HF. A missing required field or two fields that
// contradict each other is an error naming config.json and the field.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "util/json.h"

namespace prefer::io {

enum class ModelFamily { Llama, Mistral, Qwen2, Qwen3, Gemma };
enum class HeadKind { CausalLM, SequenceClassification };
enum class Activation { SiLU, GeluTanh, Gelu };

struct RopeScaling {
  std::string type = "default";  // "default" (none), "linear", "llama3"
  double factor = 1.0;
  double low_freq_factor = 1.0;   // llama3
  double high_freq_factor = 4.0;  // llama3
  int64_t original_max_position_embeddings = 0;  // llama3
};

struct ModelConfig {
  std::string architecture;  // architectures[0], e.g. "LlamaForCausalLM"
  std::string model_type;    // "llama", "mistral", "qwen2", "qwen3", "gemma"
  ModelFamily family = ModelFamily::Llama;
  HeadKind head = HeadKind::CausalLM;
  int64_t num_labels = 1;  // SequenceClassification heads (reward/value models)

  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;
  int64_t num_hidden_layers = 0;
  int64_t num_attention_heads = 0;
  int64_t num_key_value_heads = 0;
  int64_t head_dim = 0;  // explicit in the config, or hidden_size / num_attention_heads
  int64_t max_position_embeddings = 0;
  double rms_norm_eps = 1e-6;
  double rope_theta = 10000.0;
  RopeScaling rope_scaling;
  // Per layer: 0 = full attention, W > 0 = a query sees the W most recent keys including itself.
  std::vector<int64_t> layer_window;
  bool tie_word_embeddings = false;
  Activation activation = Activation::SiLU;
  bool qkv_bias = false;  // Qwen2: always; Llama/Qwen3: `attention_bias`
  bool o_bias = false;    // Llama/Qwen3 `attention_bias` also puts a bias on o_proj
  bool mlp_bias = false;  // Llama `mlp_bias`
  bool qk_norm = false;   // Qwen3: RMSNorm over head_dim on each q and k head
  bool norm_plus_one = false;       // Gemma: RMSNorm multiplies by (1 + w)
  bool scale_embeddings = false;    // Gemma: embeddings * sqrt(hidden_size)
  std::string torch_dtype;          // "float32", "bfloat16", ... ("" when absent)
  std::optional<int64_t> bos_token_id;
  std::vector<int64_t> eos_token_ids;
  std::optional<int64_t> pad_token_id;

  std::vector<std::string> warnings;  // things we accepted but the user should know

  int64_t num_kv_groups() const { return num_attention_heads / num_key_value_heads; }
};

// The architectures prefer can load, for error messages and `prefer --help`.
std::vector<std::string> supported_architectures();
std::string_view family_name(ModelFamily f);
std::string_view activation_name(Activation a);

// Parses a config object; `file` names it in errors.
ModelConfig parse_model_config(const Json& j, const std::string& file = "config.json");
ModelConfig read_model_config(const std::filesystem::path& path);

}  // namespace prefer::io
