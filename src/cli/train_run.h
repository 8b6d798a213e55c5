// The run plumbing every training command shares below its own recipe: the run folder (config.yaml,
// refusing to overwrite a finished run), the data (several files, eval file or split), the resume
// fingerprint, the model card in final/README.md, and the run itself with its summary.
//
// A command reads top to bottom: options -> open_run_folder -> prepare_run_data -> Policy -> its
// recipe as a TrainingTask -> Trainer (pre-flight, monitor rules) -> run_training.
#pragma once

#include <filesystem>
#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include "cli/command.h"
#include "cli/option_set.h"
#include "data/pipeline.h"
#include "model/model_source.h"
#include "train/trainer.h"
#include "train/memory_estimate.h"
#include "util/json.h"

namespace prefer::cli {

struct RunSummary {
  std::filesystem::path output_dir, final_dir;
  int64_t steps = 0;
  double seconds = 0;
  Json last_train, last_eval;  // the last metrics rows
  std::vector<Json> warnings;
};

// Refuses a folder that holds a finished run (final/) unless resuming, creates it, writes config.yaml.
void open_run_folder(const Json& options, const train::TrainerArgs& args);

struct RunData {
  data::TokenizedDataset train, eval;
  std::vector<std::string> warnings;  // the tokenizer's notes, per file
  data::TokenizeStats stats;          // of the training files together
  data::DatasetKind kind = data::DatasetKind::Preference;  // of the training files
  bool conversational = false;
  bool prompted = false;              // some training example has a prompt
  uint64_t hash = 0;                  // content hash of train and eval tokens
};

// Joins the other workers when this process is one of several (torchrun's environment: RANK,
// WORLD_SIZE, MASTER_ADDR, ...), with --ddp_timeout; nothing otherwise.
void join_workers(const Json& options);

// Reads --data (every file), and --eval_data or holds out eval_split of the training examples (a
// deterministic choice by the seed's shuffle).
RunData prepare_run_data(const Json& options, const data::TextModel& text, const data::PrepareOptions& prep, uint64_t seed);

// The resume fingerprint: the model's and the data's content hashes, and every resolved option that
// changes the numbers (not paths, logging or checkpoint cadence).
Json run_fingerprint(const Json& options, const model::ModelSource& model, uint64_t data_hash);

struct ModelCard {
  std::string method;                 // "SFT", "DPO", "reward model"
  std::string command;                // "prefer sft"
  model::ModelSource source;
  bool adapter = false;               // final/ is a PEFT adapter
  bool classifier = false;            // final/ is a sequence classifier (reward model)
  uint64_t data_hash = 0;
  std::vector<std::string> settings;  // option names worth showing
};

// final/README.md: base model, method, data hashes, the settings that matter, the last train/eval
// metrics and the warnings, with the front matter the Hub reads.
std::string model_card_text(const ModelCard& card, const Json& options, const train::TrainResult& result);

// What a finished run produced (the last train and eval rows, the warnings).
RunSummary summarize_run(const train::TrainResult& result);

// Trains, writes the summary line, and returns what the run produced.
// Prints the memory estimate and records it in the run folder (memory.json) for the report; `note`
// follows the estimate's text.
void record_memory_estimate(const train::TrainerArgs& args, const train::MemoryEstimate& mem, std::ostream& out, const std::string& note = "");

// report.html in the run folder of a finished run (rank 0 only), and a line saying where it is.
void write_final_report(const train::TrainResult& r, std::ostream& out);
RunSummary run_training(train::Trainer& trainer, const std::string& method, std::ostream& out);

// Registers a training command whose options are `options` (flags and --config YAML) and whose work is
// `run` on the resolved options.
void add_training_command(CLI::App& app, GlobalOptions& g, const std::string& name, const std::string& help, OptionSet options,
                          std::function<RunSummary(const Json&, std::ostream&)> run);

}  // namespace prefer::cli
