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
  auto opts = std::make_shared<OptionSet>(dpo_option_set());
  CLI::App* cmd = app.add_subcommand("dpo", "Train a model on preference pairs with DPO and its loss family (TRL's DPOTrainer)");
  opts->register_cli(cmd);
  cmd->callback([opts, &g] {
    apply_global_options(g);
    Json resolved = opts->resolve();
    run_dpo(resolved, std::cout);
  });
}

}  // namespace prefer::cli
