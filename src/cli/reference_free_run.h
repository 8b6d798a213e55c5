// The run of a reference-free pair method (`prefer orpo`, `prefer cpo`) below its options: data with
// the SFT command's tokenizer handling (these methods often start from base models), the policy, a
// PairRecipe with the method's objective, and the DPO family's checks tuned to the method. No reference
// model is built: no copy, no table (the memory estimate shows reference 0 B).
#pragma once

#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include "cli/option_set.h"
#include "cli/train_run.h"
#include "train/pair_recipe.h"
#include "train/training_warning.h"
#include "util/json.h"

namespace prefer::cli {

struct ReferenceFreeMethod {
  std::string name;    // the command: "orpo"
  std::string title;   // in messages and the model card: "ORPO"
  train::PairObjective objective;
  double beta = 0.1;
  bool average_logps = false;     // rewards are β x per-token averages (monitor thresholds)
  bool score_chosen_prompt = false;  // the NLL covers the chosen prompts too (ORPO)
  bool nll_term = true;              // the loss trains on the chosen responses (template-format check)
  std::vector<train::TrainingWarning> preflight;  // the method's own checks of its options
  std::string chosen_term_hint;                   // monitor advice (MonitorOptions::chosen_term_hint)
  std::vector<std::string> settings;              // the method's options shown on the model card
};

// The options every reference-free command shares: model and pair data, the template, the batch
// layout, TrainingArguments and LoRA (the method adds its own before calling).
void add_reference_free_options(OptionSet& s, const std::string& model_help);

RunSummary run_reference_free(const Json& options, const ReferenceFreeMethod& method, std::ostream& out);

}  // namespace prefer::cli
