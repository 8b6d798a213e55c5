// Unpaired (KTO) data from tokenized datasets: preference pairs split into a desirable and an
// undesirable example (TRL's unpair_preference_dataset, applied on the fly), and the mismatched
// prompt/completion rows of KTO's KL reference point.
#pragma once

#include <cstdint>
#include <vector>

#include "data/tokenized_dataset.h"

namespace prefer::data {

// Pair i becomes rows 2i (prompt + chosen, label true) and 2i + 1 (prompt + rejected, label false), each
// with the prompt as its side saw it. Unpaired rows pass through unchanged.
TokenizedDataset unpair(const TokenizedDataset& data);

// KTO's KL rows (Ethayarajh et al. 2024; TRL rotates completions by one inside each batch): for every
// block [i_0, ..., i_{k-1}] of `blocks` (k >= 2), row i_j holds the prompt of i_j and the completion of
// i_{j-1 mod k}, so no row sees its own completion. The completion is cut to fit max_length (0 = no
// limit) after the prompt. Row indices equal `data`'s; rows outside every block are empty.
TokenizedDataset mismatched_rows(const TokenizedDataset& data, const std::vector<std::vector<size_t>>& blocks, int64_t max_length);

}  // namespace prefer::data
