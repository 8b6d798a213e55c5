// `prefer cpo`: Contrastive Preference Optimization with TRL CPOTrainer's names and semantics, and its
// reference-free relatives SimPO (loss_type simpo, cpo_alpha 0) and AlphaPO (loss_type alphapo, alpha):
// no reference model is loaded or tabulated, which is what makes them fit where DPO does not.
#include "cli/command.h"
#include "cli/reference_free_run.h"
#include "cli/train_options.h"
#include "train/preference_checks.h"

namespace prefer::cli {

namespace {

OptionSet cpo_option_set() {
  OptionSet s;
  using T = OptType;
  add_reference_free_options(s, "Model folder to align (base or SFT), a run folder or an adapter");
  s.add("loss_type", T::String, "sigmoid", "sigmoid (CPO), hinge, ipo, simpo or alphapo");
  s.add("beta", T::Float, 0.1, "Temperature of the preference term (SimPO's paper uses 2.5)");
  s.add("label_smoothing", T::Float, 0.0, "Label noise epsilon in [0, 0.5) (sigmoid and simpo)");
  s.add("cpo_alpha", T::Float, 1.0, "Weight of the chosen NLL term; 0 for plain SimPO");
  s.add("simpo_gamma", T::Float, 0.5, "SimPO's target reward margin gamma (absolute; the paper's gamma/beta 0.55 at beta 2.5 is 1.375)");
  s.add("alpha", T::Float, 0.0, "AlphaPO's alpha (reward (1 - p^-alpha)/alpha; 0 = log-prob reward)");
  add_training_options(s, {.learning_rate = 1e-6, .num_train_epochs = 3.0, .per_device_train_batch_size = 8, .batch_unit = "pairs"});
  add_lora_options(s);
  add_judged_eval_options(s);
  return s;
}

RunSummary run_cpo(const Json& o, std::ostream& out) {
  objectives::CpoConfig cfg;
  cfg.loss_type = objectives::parse_cpo_loss_type(get<std::string>(o, "loss_type"));
  cfg.beta = get<double>(o, "beta");
  cfg.label_smoothing = get<double>(o, "label_smoothing");
  cfg.cpo_alpha = get<double>(o, "cpo_alpha");
  cfg.simpo_gamma = get<double>(o, "simpo_gamma");
  cfg.alpha = get<double>(o, "alpha");
  cfg.validate();
  ReferenceFreeMethod m{.name = "cpo", .title = cfg.loss_type == objectives::CpoLossType::kSimpo && cfg.cpo_alpha == 0.0 ? "SimPO"
                                               : cfg.loss_type == objectives::CpoLossType::kAlphapo                   ? "AlphaPO"
                                                                                                                      : "CPO",
                        .objective = train::cpo_objective(cfg), .beta = cfg.beta, .average_logps = cfg.uses_average_log_prob(),
                        .nll_term = cfg.effective_cpo_alpha() > 0,
                        .chosen_term_hint = "raise cpo_alpha (the weight of the NLL on the chosen responses)",
                        .settings = {"loss_type", "beta", "cpo_alpha", "simpo_gamma", "alpha", "label_smoothing"}};
  if (auto w = train::simpo_nll_check(cfg)) m.preflight.push_back(*w);
  return run_reference_free(o, m, out);
}

}  // namespace

void add_cpo_command(CLI::App& app, GlobalOptions& g) {
  add_training_command(app, g, "cpo", "Align a model on preference pairs without a reference model: CPO, SimPO, AlphaPO (TRL's CPOTrainer)",
                       cpo_option_set(), run_cpo);
}

}  // namespace prefer::cli
