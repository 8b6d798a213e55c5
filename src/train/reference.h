// The reference model of the methods that compare the policy with where it started (DPO now; KTO, PPO
// and evaluation next), as one piece used as it is. In order of preference:
//   Table        precompute_ref_log_probs: the reference's summed log-probs of every completion of a
//                dataset, computed once without gradients before training and cached on disk (keyed by
//                the reference's weights and the tokenized data), so steps never run the reference
//   AdaptersOff  the policy itself with its LoRA adapters switched off: no second copy of the weights
//   FrozenModel  a separate frozen copy (--ref_model, or the starting model for full fine-tuning)
// Values are per completion: chosen [B] and rejected [B] (single-completion data: chosen only).
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <vector>

#include "data/batch.h"
#include "data/tokenized_dataset.h"
#include "model/causal_lm.h"
#include "model/scorer.h"

namespace prefer::train {

enum class ReferenceKind { AdaptersOff, FrozenModel, Table };

struct ReferenceTable {
  at::Tensor chosen, rejected;  // [N] float64, index = dataset row (rejected undefined without pairs)
  bool from_cache = false;
};

class Reference {
 public:
  // `frozen` may be null: then the policy must carry LoRA adapters, or tables must be set for every
  // dataset the steps see.
  Reference(model::CausalLM& policy, model::CausalLM* frozen, int64_t chunk_tokens = 1024);

  ReferenceKind kind(const data::TokenizedDataset& data) const;
  // The reference's log-probs of every scored token of `batch`, no gradient (token_logps [N], sums and
  // counts [S]): the frozen model, or the policy with adapters off (as it is, in the precompute pass).
  model::SequenceScores scores(const data::Batch& batch);
  // Summed log-probs of the examples' completions, float64 [B] and [B]: the dataset's table when it has
  // one, else a live pass over `batch` (which must hold those examples in that order).
  std::pair<at::Tensor, at::Tensor> sums(const data::TokenizedDataset& data, const std::vector<size_t>& examples,
                                         const data::Batch& batch);

  // precompute_ref_log_probs: the table of `data` from <cache_dir>/refs/ when present, else computed
  // with the live reference in batches of `batch_size` and cached. `model_key` identifies the
  // reference's weights (model::model_source_hash). The table is then used for `data`.
  const ReferenceTable& precompute(const data::TokenizedDataset& data, const data::BatchOptions& batch, uint64_t model_key,
                                   const std::filesystem::path& cache_dir, int64_t batch_size);
  // The batches precompute() runs over: batch_size examples each, length-grouped, in a fixed order.
  static std::vector<std::vector<size_t>> precompute_batches(const data::TokenizedDataset& data, int64_t batch_size);
  void set_table(const data::TokenizedDataset& data, at::Tensor chosen, at::Tensor rejected);
  // Before the first update the policy is the starting model: precompute without a frozen copy uses it
  // as it is. Switch it off before training.
  void use_policy_as_reference(bool on) { policy_is_reference_ = on; }
  // Frees the frozen copy (every dataset has a table).
  void drop_frozen();
  bool has_frozen() const { return frozen_ != nullptr; }

 private:
  model::CausalLM& policy_;
  model::CausalLM* frozen_;
  int64_t chunk_tokens_;
  bool policy_is_reference_ = false;
  std::map<const data::TokenizedDataset*, ReferenceTable> tables_;
};

}  // namespace prefer::train
