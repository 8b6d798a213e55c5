// A Hugging Face model folder as saved by `save_pretrained`: config, generation config, weights and
// tokenizer files, found and parsed in one place.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "io/checkpoint.h"
#include "io/hf_config.h"

namespace prefer::io {

// generation_config.json (all fields optional).
struct GenerationConfig {
  std::optional<int64_t> bos_token_id;
  std::vector<int64_t> eos_token_ids;
  std::optional<int64_t> pad_token_id;
  std::optional<bool> do_sample;
  std::optional<double> temperature;
  std::optional<int64_t> top_k;
  std::optional<double> top_p;
  std::optional<int64_t> max_new_tokens;
  std::optional<int64_t> max_length;
};

GenerationConfig parse_generation_config(const Json& j, const std::string& file = "generation_config.json");

// Paths of the tokenizer files that exist in the folder (empty path = absent).
struct TokenizerFiles {
  std::filesystem::path tokenizer_json;          // tokenizer.json (the fast tokenizer: the one we read)
  std::filesystem::path tokenizer_config_json;   // tokenizer_config.json (special tokens, chat template)
  std::filesystem::path special_tokens_map_json; // special_tokens_map.json
  std::filesystem::path chat_template_jinja;     // chat_template.jinja (transformers >= 4.50 saves it apart)
  std::filesystem::path chat_template_json;      // chat_template.json (processors)
  std::vector<std::filesystem::path> all() const;
};

struct ModelFolder {
  std::filesystem::path dir;
  ModelConfig config;
  std::optional<GenerationConfig> generation;
  TokenizerFiles tokenizer;
  // Weight files: one model.safetensors, or the index; open them with Checkpoint::open_folder(dir).
  std::filesystem::path weights;
};

// Reads config.json (required) and generation_config.json (optional), and locates weights and tokenizer
// files. A PEFT adapter folder (adapter_config.json, no config.json) is an error with a hint.
ModelFolder open_model_folder(const std::filesystem::path& dir);

}  // namespace prefer::io
