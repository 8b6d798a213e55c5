// `prefer dpo`: Direct Preference Optimization with TRL's option names, as `DPOTrainer` would run it.
//
// Reads options (flags > --config YAML > defaults), validates them up front, prepares the data, loads
// the policy (with LoRA when use_peft), picks the reference (adapters off, a frozen copy, --ref_model, or
// a precomputed table), then hands a TrainingTask to the method-agnostic Trainer.
#include <fmt/format.h>

#include <iostream>

#include "cli/command.h"
#include "cli/dpo_run.h"
#include "cli/option_set.h"

namespace prefer::cli {

void add_dpo_command(CLI::App& app, GlobalOptions& g) {
  add_training_command(app, g, "dpo", "Train a model on preference pairs with DPO and its loss family (TRL's DPOTrainer)", dpo_option_set(),
                       run_dpo);
}

}  // namespace prefer::cli
