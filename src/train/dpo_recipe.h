// One DPO micro-batch, as data: examples -> batch -> policy log-probs -> reference log-probs (the
// Reference piece: table, adapters off, or a frozen copy) -> objectives::dpo_loss -> loss and metrics.
// The trainer owns everything around it (accumulation, clipping, optimizer, schedule, logging,
// checkpoints).
#pragma once

#include <ATen/core/Tensor.h>

#include <memory>
#include <optional>
#include <vector>

#include "data/batch.h"
#include "data/tokenized_dataset.h"
#include "model/causal_lm.h"
#include "objectives/dpo.h"
#include "train/reference.h"

namespace prefer::train {

struct DpoRecipeOptions {
  objectives::DpoConfig dpo;
  data::BatchOptions batch;
  int64_t chunk_tokens = 1024;
};

struct DpoStepOutput {
  at::Tensor loss;               // [] mean over the micro-batch's pairs, differentiable
  objectives::Metrics metrics;   // TRL names, plus logits/chosen and logits/rejected
  int64_t pairs = 0;
  int64_t tokens = 0;            // real (non-padding) tokens in the policy batch
  double padding_fraction = 0;
  at::Tensor chosen_logps, rejected_logps;  // [B] detached policy sums (for `prefer logprobs`-style use)
  std::vector<int64_t> lines;    // source lines of the pairs (for the NaN report)
};

class DpoRecipe {
 public:
  DpoRecipe(model::CausalLM& policy, Reference& reference, DpoRecipeOptions options);
  // With a reference of its own: `frozen` may be null (adapters off, or tables set later).
  DpoRecipe(model::CausalLM& policy, model::CausalLM* frozen, DpoRecipeOptions options);

  DpoStepOutput step(const data::TokenizedDataset& data, const std::vector<size_t>& examples, bool train);

  Reference& reference() { return *reference_; }
  const DpoRecipeOptions& options() const { return opt_; }
  objectives::DpoState& state() { return state_; }

 private:
  model::CausalLM& policy_;
  std::unique_ptr<Reference> owned_;
  Reference* reference_;
  DpoRecipeOptions opt_;
  objectives::DpoState state_;
};

}  // namespace prefer::train
