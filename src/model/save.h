// Saving a model as a Hugging Face folder that transformers and this loader read back: config.json,
// generation_config.json, model.safetensors (or shards at a size limit with
// model.safetensors.index.json) and the tokenizer files of the folder the model came from.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <filesystem>
#include <optional>

#include "io/hf_config.h"
#include "util/json.h"

namespace prefer::model {

class CausalLM;

struct SaveOptions {
  uint64_t max_shard_bytes = 5ull << 30;  // transformers' default max_shard_size, "5GB"
  std::optional<at::ScalarType> dtype;    // weights' dtype on disk; default: the model's
  // Where tokenizer files and generation_config.json are copied from; default: the model's source folder.
  std::filesystem::path tokenizer_from;
};

// Writes the folder atomically (built beside `dir`, then renamed into place, replacing an existing
// folder). LoRA adapters, if any, are merged into the saved weights (the model itself is unchanged):
// the folder computes what the model computes.
void save_pretrained(const CausalLM& model, const std::filesystem::path& dir, const SaveOptions& options = {});

// Copies the tokenizer files that exist in `from` (tokenizer.json, tokenizer_config.json, chat
// template, sentencepiece/BPE vocab files ...) into `to`, replacing files of the same name.
void copy_tokenizer_files(const std::filesystem::path& from, const std::filesystem::path& to);

// config.json for `model`: its source config.json with the fields that may have changed updated
// (architectures, torch_dtype, num_labels and labels for classifiers), or, for a model built from a
// config struct, a config written from the struct's fields.
Json model_config_json(const CausalLM& model, at::ScalarType saved_dtype);

}  // namespace prefer::model
