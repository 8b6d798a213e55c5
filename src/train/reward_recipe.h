// One reward-model micro-batch (TRL's RewardTrainer): pairs -> rows [prompt+chosen x B ; prompt+rejected
// x B] -> the sequence classifier's reward at each row's last real token (never at padding) ->
// objectives::reward_loss (Bradley-Terry, optional margin column and reward centring). The loss is a
// sum over pairs and the micro-batch's weight its pair count.
#pragma once

#include <vector>

#include "data/batch.h"
#include "data/tokenized_dataset.h"
#include "model/causal_lm.h"
#include "objectives/reward.h"
#include "train/training_task.h"

namespace prefer::train {

struct RewardRecipeOptions {
  objectives::RewardConfig reward;
  data::BatchOptions batch;  // concatenated layout
};

// Rewards [R] of a batch's rows (float32; float64 for a float64 model), read at each row's last real token.
at::Tensor row_rewards(const model::CausalLM& model, const data::Batch& batch);

class RewardRecipe {
 public:
  RewardRecipe(model::CausalLM& model, RewardRecipeOptions options);
  MicroStep step(const data::TokenizedDataset& data, const std::vector<size_t>& examples, bool train);
  // The rewards of chosen and rejected for the given pairs, no gradient: [B], [B].
  std::pair<at::Tensor, at::Tensor> pair_rewards(const data::TokenizedDataset& data, const std::vector<size_t>& examples);
  void install(TrainingTask& task);

 private:
  model::CausalLM& model_;
  RewardRecipeOptions opt_;
};

}  // namespace prefer::train
