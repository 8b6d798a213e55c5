// One SFT micro-batch, as data: examples -> (packed) rows -> the scored tokens' log-probs ->
// objectives::sft_loss. The loss is a sum over trained tokens and the micro-batch's weight is its
// token count, so the trainer divides by the tokens of the whole optimizer step (TRL's
// num_items_in_batch): the step's loss is the token mean over every micro-batch.
//
// Trained tokens: the completion's (completion_only_loss, the default for prompt/completion data), or
// every token after the first (language modelling: `text` and `messages` data, or
// completion_only_loss false).
#pragma once

#include <map>
#include <vector>

#include "data/batch.h"
#include "data/packing.h"
#include "data/tokenized_dataset.h"
#include "model/causal_lm.h"
#include "objectives/sft.h"
#include "train/training_task.h"

namespace prefer::train {

struct SftRecipeOptions {
  objectives::SftConfig sft;
  data::BatchOptions batch;
  int64_t chunk_tokens = 1024;
  bool completion_only_loss = true;  // false: every token after the first
  bool packing = false;              // best-fit decreasing into rows of max_length (padding-free)
  int64_t max_length = 1024;         // the packed row length
};

class SftRecipe {
 public:
  SftRecipe(model::CausalLM& model, SftRecipeOptions options);

  // Tokens the examples contribute to the loss (known before the forward).
  double weight(const data::TokenizedDataset& data, const std::vector<size_t>& examples) const;
  MicroStep step(const data::TokenizedDataset& data, const std::vector<size_t>& examples, bool train);
  // Packing only: the micro-batches of an epoch over packed rows (the dataset is packed once).
  BatchList batches(const data::TokenizedDataset& data, const data::SamplerOptions& sampler, int64_t epoch);
  // The rows of a micro-batch: whole packed rows (for a dataset batches() has packed), padding-free
  // rows (batch.padding_free), or one row per example.
  std::vector<std::vector<size_t>> rows(const data::TokenizedDataset& data, const std::vector<size_t>& examples);

  // Fills the task's step / weight / batches.
  void install(TrainingTask& task);
  const SftRecipeOptions& options() const { return opt_; }

 private:
  const data::Packing& packing(const data::TokenizedDataset& data);

  model::CausalLM& model_;
  SftRecipeOptions opt_;
  std::map<const data::TokenizedDataset*, data::Packing> packings_;
};

}  // namespace prefer::train
