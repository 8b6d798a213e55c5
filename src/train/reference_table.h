// precompute_ref_log_probs: the reference's summed log-probs of every pair, computed once without
// gradients and kept on disk, so training steps never run the reference. The file is keyed by the
// reference model's files and the tokenized data, and reused by later runs on the same pair.
#pragma once

#include <ATen/core/Tensor.h>

#include <filesystem>

#include "data/tokenized_dataset.h"
#include "train/dpo_recipe.h"

namespace prefer::train {

struct ReferenceTable {
  at::Tensor chosen, rejected;  // [N] float64, index = dataset row
  bool from_cache = false;
};

// Computes (or reads from <cache_dir>/refs/) the table for `data` with `recipe`'s reference (whose weights
// `reference_key` identifies: model::model_source_hash) (its table
// must be unset), in batches of `batch_size` pairs.
ReferenceTable reference_table(DpoRecipe& recipe, const data::TokenizedDataset& data, uint64_t reference_key,
                               const std::filesystem::path& cache_dir, int64_t batch_size);

}  // namespace prefer::train
