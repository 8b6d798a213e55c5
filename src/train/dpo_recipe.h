// One DPO micro-batch, as data: examples -> batch -> policy log-probs -> reference log-probs ->
// objectives::dpo_loss -> loss and metrics. The trainer owns everything around it (accumulation,
// clipping, optimizer, schedule, logging, checkpoints).
//
// The reference is, in order of preference: a precomputed table (precompute_ref_log_probs: one no-grad
// pass before training, cached on disk), the policy itself with its LoRA adapters switched off (no
// second copy of the weights), or a separate frozen model (a copy of the starting policy, or --ref_model).
#pragma once

#include <ATen/core/Tensor.h>

#include <optional>
#include <vector>

#include "data/batch.h"
#include "data/tokenized_dataset.h"
#include "model/causal_lm.h"
#include "objectives/dpo.h"
#include "model/scorer.h"

namespace prefer::train {

enum class ReferenceKind { AdaptersOff, FrozenModel, Table };

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
  // `reference` may be null: then the policy must carry LoRA adapters (adapters off = reference), or a
  // reference table must be set before the first step.
  DpoRecipe(model::CausalLM& policy, model::CausalLM* reference, DpoRecipeOptions options);

  DpoStepOutput step(const data::TokenizedDataset& data, const std::vector<size_t>& examples, bool train);

  // The reference's summed log-probs of chosen and rejected for the given examples, no gradient [B], [B].
  std::pair<at::Tensor, at::Tensor> reference_logps(const data::TokenizedDataset& data, const std::vector<size_t>& examples);
  // Reference values for every example of `data` [N] (index = dataset row), used instead of a forward.
  void set_reference_table(at::Tensor chosen, at::Tensor rejected);
  void clear_reference_table() { table_chosen_ = at::Tensor(); table_rejected_ = at::Tensor(); }
  ReferenceKind reference_kind() const;
  // precompute_ref_log_probs without a reference model: before the first update the policy itself is
  // the reference (TRL does the same). Only for the precompute pass; switch it off before training.
  void use_policy_as_reference(bool on) { policy_is_reference_ = on; }
  // Replaces (or drops, with nullptr) the separate reference model.
  void set_reference_model(model::CausalLM* reference) { reference_ = reference; }
  const DpoRecipeOptions& options() const { return opt_; }
  objectives::DpoState& state() { return state_; }

 private:
  // The reference's log-probs of every scored token of `batch` (no gradient): the separate model, or
  // the policy with its adapters off (or as it is, during the precompute pass).
  model::SequenceScores reference_sequence_logps(const data::Batch& batch);
  std::pair<at::Tensor, at::Tensor> live_reference(const data::Batch& batch);

  model::CausalLM& policy_;
  model::CausalLM* reference_;
  DpoRecipeOptions opt_;
  objectives::DpoState state_;
  at::Tensor table_chosen_, table_rejected_;
  bool policy_is_reference_ = false;
};

}  // namespace prefer::train
