// `prefer orpo`: Odds Ratio Preference Optimization with TRL ORPOTrainer's names and semantics. One run
// from a base model, no SFT stage and no reference model: loss = NLL of the whole chosen sequence −
// beta (λ) x mean logσ(log-odds ratio of the chosen and rejected average log-probs).
#include "cli/command.h"
#include "cli/reference_free_run.h"
#include "cli/train_options.h"

namespace prefer::cli {

namespace {

OptionSet orpo_option_set() {
  OptionSet s;
  add_reference_free_options(s, "Model folder to align, often a base model (ORPO needs no SFT stage), a run folder or an adapter");
  s.add("beta", OptType::Float, 0.1, "λ: the weight of the odds-ratio term against the NLL (the paper's lambda, 0.1)");
  add_training_options(s, {.learning_rate = 1e-6, .num_train_epochs = 3.0, .per_device_train_batch_size = 8, .batch_unit = "pairs"});
  add_lora_options(s);
  add_judged_eval_options(s);
  return s;
}

RunSummary run_orpo(const Json& o, std::ostream& out) {
  objectives::OrpoConfig cfg{.beta = get<double>(o, "beta")};
  return run_reference_free(o,
                            {.name = "orpo", .title = "ORPO", .objective = train::orpo_objective(cfg), .beta = cfg.beta,
                             .average_logps = true, .score_chosen_prompt = true, .nll_term = true,
                             .chosen_term_hint = "lower beta (the NLL term then weighs more)", .settings = {"beta"}},
                            out);
}

}  // namespace

void add_orpo_command(CLI::App& app, GlobalOptions& g) {
  add_training_command(app, g, "orpo", "Align a (base) model on preference pairs in one stage with ORPO, no reference model (TRL's ORPOTrainer)",
                       orpo_option_set(), run_orpo);
}

}  // namespace prefer::cli
