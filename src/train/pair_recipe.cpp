#include "train/pair_recipe.h"

#include <ATen/ATen.h>

#include <optional>

#include "train/batch_logps.h"

namespace prefer::train {

PairObjective orpo_objective(objectives::OrpoConfig cfg) {
  cfg.validate();
  return [cfg](const PairLogps& p) {
    objectives::OrpoOutput o = objectives::orpo_loss({.policy_chosen_logps = p.chosen_mean(), .policy_rejected_logps = p.rejected_mean(),
                                                      .nll_loss = p.chosen_nll},
                                                     cfg);
    return PairLoss{o.loss, o.metrics};
  };
}

PairObjective cpo_objective(objectives::CpoConfig cfg) {
  cfg.validate();
  return [cfg](const PairLogps& p) {
    const bool mean = cfg.uses_average_log_prob();
    objectives::CpoOutput o = objectives::cpo_loss({.policy_chosen_logps = mean ? p.chosen_mean() : p.chosen,
                                                    .policy_rejected_logps = mean ? p.rejected_mean() : p.rejected,
                                                    .nll_loss = p.chosen_nll},
                                                   cfg);
    return PairLoss{o.loss, o.metrics};
  };
}

PairRecipe::PairRecipe(model::CausalLM& policy, PairObjective objective, PairRecipeOptions options)
    : policy_(policy), objective_(std::move(objective)), opt_(std::move(options)) {}

MicroStep PairRecipe::step(const data::TokenizedDataset& data, const std::vector<size_t>& examples, bool train) {
  data::Batch batch = data::make_batch(data, examples, opt_.batch);
  policy_.set_training(train);
  std::optional<at::NoGradGuard> no_grad;
  if (!train) no_grad.emplace();
  PairLogps p = pair_logps(batch_logps(policy_, batch, opt_.chunk_tokens, /*stats=*/true), batch);
  PairLoss l = objective_(p);
  for (const auto& [name, value] : p.stats) l.metrics[name] = value;
  const double pairs = static_cast<double>(batch.pairs);
  MicroStep m{.loss_sum = l.loss * pairs, .weight = pairs, .examples = batch.pairs, .tokens = batch.real_tokens};
  add_means(m.metrics, l.metrics, pairs);
  for (size_t e : examples) m.lines.push_back(data.row(e).line);
  return m;
}

void PairRecipe::install(TrainingTask& task) {
  task.step = [this](const data::TokenizedDataset& d, const std::vector<size_t>& ex, bool train) { return step(d, ex, train); };
}

}  // namespace prefer::train
