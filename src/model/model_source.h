// Which folders make up "the model" a user names: a Hugging Face model folder, a run folder (its final/),
// or a PEFT adapter folder (its base from adapter_config.json's base_model_name_or_path), plus optional
// --adapter folders on top. Adapters are merged into the base at load, so the starting model of a later
// run (and its reference) is the fine-tuned model, not the bare base: what lets `prefer sft --use_peft`
// feed `prefer dpo --model`, and `prefer reward --use_peft` feed `prefer score --model`.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "model/causal_lm.h"
#include "model/loader.h"

namespace prefer::model {

struct ModelSource {
  std::filesystem::path base;                   // holds config.json and the weights
  std::vector<std::filesystem::path> adapters;  // merged in this order
  std::filesystem::path tokenizer;              // the folder whose tokenizer files describe the model
  // A short description for messages: "base + adapter".
  std::string describe() const;
};

// Resolves `model` (and `adapter`, when given). `field` names the option in errors. A base path in an
// adapter's config is tried relative to the working directory first, then to the adapter folder.
ModelSource resolve_model_source(const std::filesystem::path& model, const std::optional<std::filesystem::path>& adapter = {},
                                 const std::string& field = "model");

// Loads the base, then adds and merges each adapter (a SEQ_CLS adapter brings its score head).
CausalLM load_model_source(const ModelSource& source, const LoadOptions& options = {}, LoadReport* report = nullptr);

// Content hashes of the files that decide the weights: a folder's config, weights (every shard) and
// adapter files; and of a whole source (base and adapters). Keys of values computed with a model.
uint64_t model_folder_hash(const std::filesystem::path& dir);
uint64_t model_source_hash(const ModelSource& source);

}  // namespace prefer::model
