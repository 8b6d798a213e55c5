// The reference model of a command that compares the policy with where it started (DPO, KTO), chosen
// from the options: --ref_model; a frozen copy for full fine-tuning without precompute; else the
// policy with its adapters off. With precompute_ref_log_probs every dataset is tabulated once (cached on
// disk by model and data) and no reference weights stay in memory while training; precompute_ref_dtype
// bfloat16 runs that pass in bf16 for a float32 policy (a bf16 copy of the starting weights while it lasts).
#pragma once

#include <ATen/core/ScalarType.h>

#include <filesystem>
#include <optional>
#include <ostream>
#include <vector>

#include "cli/policy.h"
#include "data/batch.h"
#include "data/tokenized_dataset.h"
#include "model/causal_lm.h"
#include "model/model_source.h"
#include "train/reference.h"
#include "util/json.h"

namespace prefer::cli {

class RunReference {
 public:
  // Reads ref_model, use_peft, precompute_ref_log_probs and precompute_ref_dtype; loads a frozen copy
  // when one is needed.
  RunReference(const Json& options, const model::ModelSource& policy_source, Policy& policy, int64_t chunk_tokens);
  // precompute_ref_dtype's value, and that it comes with precompute_ref_log_probs: before any work.
  static void check_options(const Json& options);
  RunReference(const RunReference&) = delete;  // the Reference points into this object
  RunReference& operator=(const RunReference&) = delete;

  train::Reference& get() { return *ref_; }
  bool precompute() const { return precompute_; }
  // Whether a second copy of the weights stays in memory while training (the memory estimate).
  bool keeps_copy() const { return frozen_.has_value(); }

  // precompute_ref_log_probs: the table of each dataset (its rows as `batch` builds them), then the
  // frozen copy is freed. `unit` names the rows in the progress line ("pairs", "examples").
  void tabulate(const std::vector<const data::TokenizedDataset*>& sets, const data::BatchOptions& batch,
                const std::filesystem::path& cache_dir, int64_t batch_size, const char* unit, std::ostream& out);

 private:
  std::optional<model::ModelSource> ref_source_;
  model::ModelSource source_;
  bool precompute_;
  model::QuantizationConfig quant_;
  std::string precision_;  // the reference's: "" for float32, else the dtype and whether mixed (the table's cache key)
  std::optional<model::CausalLM> frozen_;
  std::optional<train::Reference> ref_;  // set in the constructor, after frozen_ (it points to it)
};

}  // namespace prefer::cli
