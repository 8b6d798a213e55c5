// The option groups every training command shares, written once (TRL's TrainingArguments and the data
// and PEFT options), and their readers into typed structs. A command is its own group plus these:
//
//   OptionSet s;
//   add_model_data_options(s, {.data_help = "...", .columns = {"prompt", "completion"}});
//   add_training_options(s, {.learning_rate = 2e-5});
//   add_lora_options(s);
//   ... s.add("beta", ...)   // the method's own block
//
// The readers validate one rule per sentence, naming the option; the same flag means the same thing in
// every command.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "cli/data_options.h"
#include "cli/option_set.h"
#include "data/pipeline.h"
#include "model/lora.h"
#include "train/trainer.h"
#include "util/json.h"

namespace prefer::cli {

struct ModelDataDefaults {
  std::string model_help = "Model folder (Hugging Face format), a run folder, or a PEFT adapter folder";
  std::string data_help = "Training data: JSONL or JSON (several files: a,b or repeat the flag)";
  std::vector<std::string> columns;  // which *_column flags the command reads (prompt, chosen, rejected, ...)
  int64_t max_length = 1024;
  bool max_prompt_length = false;    // offer max_prompt_length
};

struct TrainingDefaults {
  double learning_rate = 1e-6;
  double num_train_epochs = 3.0;
  int64_t per_device_train_batch_size = 8;
  std::string batch_unit = "examples";  // what the batch counts, in help texts
};

void add_model_data_options(OptionSet& s, const ModelDataDefaults& d);
void add_training_options(OptionSet& s, const TrainingDefaults& d);
// LoRA and the quantised base under it (quantization_options.h).
void add_lora_options(OptionSet& s);
// The judged win rate during training (--eval_prompts, --judge, ...): cli/judged_eval.h.
void add_judged_eval_options(OptionSet& s);

// Readers of resolved options (OptionSet::resolve()).
template <class T>
T get(const Json& o, const char* k) {
  return o.at(k).get<T>();
}
template <class T>
std::optional<T> opt(const Json& o, const char* k) {
  if (!o.contains(k) || o.at(k).is_null()) return std::nullopt;
  return o.at(k).get<T>();
}
void require(const Json& o, const char* k, const char* what);

// The data files of --data (a list; "a.jsonl,b.jsonl" and repeated flags both give several).
std::vector<std::filesystem::path> data_files(const Json& o, const char* key = "data");
// Columns, lengths, truncation and cache, validated by DataFlags' rules.
data::PrepareOptions prepare_options(const Json& o, data::DatasetKind kind);
train::TrainerArgs trainer_args(const Json& o, const std::string& command);
model::LoraConfig lora_config(const Json& o, const std::string& base);

}  // namespace prefer::cli
