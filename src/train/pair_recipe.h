// One micro-batch of a reference-free preference method (ORPO; CPO with SimPO and AlphaPO): pairs ->
// policy log-probs (sums, per-token averages, the chosen NLL) -> the method's objective -> loss and
// metrics. No reference model exists in these runs: no copy, no table, no second pass.
#pragma once

#include <ATen/core/Tensor.h>

#include <functional>
#include <vector>

#include "data/batch.h"
#include "data/tokenized_dataset.h"
#include "model/causal_lm.h"
#include "objectives/cpo.h"
#include "objectives/metrics.h"
#include "objectives/orpo.h"
#include "train/pair_logps.h"
#include "train/training_task.h"

namespace prefer::train {

// The method: the loss [] (a mean over the B pairs, differentiable) and its metrics under TRL's names.
struct PairLoss {
  at::Tensor loss;
  objectives::Metrics metrics;
};
using PairObjective = std::function<PairLoss(const PairLogps&)>;

// TRL's ORPOTrainer: average log-probs, loss = NLL(chosen) − β·mean logσ(log-odds ratio).
PairObjective orpo_objective(objectives::OrpoConfig config);
// TRL's CPOTrainer: sums (sigmoid, hinge) or averages (ipo, simpo, alphapo), + cpo_alpha·NLL(chosen).
PairObjective cpo_objective(objectives::CpoConfig config);

struct PairRecipeOptions {
  data::BatchOptions batch;
  int64_t chunk_tokens = 1024;
};

class PairRecipe {
 public:
  PairRecipe(model::CausalLM& policy, PairObjective objective, PairRecipeOptions options);
  // One micro-batch as the trainer's MicroStep: loss_sum = mean loss x pairs, weight = pairs.
  MicroStep step(const data::TokenizedDataset& data, const std::vector<size_t>& examples, bool train);
  // Sets the task's step.
  void install(TrainingTask& task);

 private:
  model::CausalLM& policy_;
  PairObjective objective_;
  PairRecipeOptions opt_;
};

}  // namespace prefer::train
