// One KTO micro-batch (TRL's KTOTrainer): unpaired examples with a desirable / undesirable label ->
// policy and reference log-probs of each completion -> the KL reference point from the batch's
// mismatched rows (policy without gradient, and the reference) -> objectives::kto_loss.
//
// TRL builds the mismatched rows by rotating completions inside each batch, so a batch's membership
// must be fixed before training: `prepare` cuts each dataset once into blocks of the batch size (a
// seeded shuffle), and every epoch visits the same blocks in a new order. Fixed blocks
// also let precompute_ref_log_probs tabulate the reference's log-probs of the KL rows.
#pragma once

#include <ATen/core/Tensor.h>

#include <map>
#include <vector>

#include "data/batch.h"
#include "data/tokenized_dataset.h"
#include "model/causal_lm.h"
#include "objectives/kto.h"
#include "train/reference.h"
#include "train/training_task.h"

namespace prefer::train {

struct KtoRecipeOptions {
  objectives::KtoConfig kto;
  data::BatchOptions batch;
  int64_t chunk_tokens = 1024;
  int64_t max_length = 0;  // the KL rows' limit (0 = none), as the data's
};

// A dataset's fixed micro-batches and (loss_type kto) its KL rows, index for index.
struct KtoBlocks {
  BatchList blocks;
  data::TokenizedDataset kl;
};

class KtoRecipe {
 public:
  KtoRecipe(model::CausalLM& policy, Reference& reference, KtoRecipeOptions options);

  // Cuts `data` into blocks of `batch_size` examples (a last block of one joins the block before) and
  // builds its KL rows. Call once for every dataset the trainer will see, before training. Errors when a
  // block cannot hold two examples and the loss needs the KL term.
  const KtoBlocks& prepare(const data::TokenizedDataset& data, int64_t batch_size, uint64_t seed, const char* batch_option);
  const KtoBlocks& blocks(const data::TokenizedDataset& data) const;
  // The blocks in the order of `epoch` (shuffled when `shuffle`).
  BatchList batches(const data::TokenizedDataset& data, bool shuffle, uint64_t seed, int64_t epoch) const;

  // One micro-batch: loss_sum = nanmean(losses) x examples, weight = examples.
  MicroStep step(const data::TokenizedDataset& data, const std::vector<size_t>& examples, bool train);
  // Sets the task's step and batches.
  void install(TrainingTask& task);

 private:
  model::CausalLM& policy_;
  Reference& reference_;
  KtoRecipeOptions opt_;
  std::map<const data::TokenizedDataset*, KtoBlocks> blocks_;
};

}  // namespace prefer::train
