// Whole datasets through a frozen model, batch by batch without autograd: the log-probabilities of each
// example's completions (prefer logprobs, held-out accuracy and the capability check in prefer eval) and
// a reward model's scores (prefer score, the reward-model judge).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "data/tokenized_dataset.h"
#include "model/causal_lm.h"

namespace prefer::train {

// Per example of the dataset, in its order: [0, N) the chosen response (or the only completion),
// [N, 2N) the rejected one (pairs; zero otherwise).
struct DatasetLogps {
  std::vector<double> sum;
  std::vector<int64_t> count;
};

// `label` names the progress bar ("logprobs", "reference", ...); no bar when empty.
DatasetLogps dataset_logps(const model::CausalLM& m, const data::TokenizedDataset& d, int64_t batch_size, int64_t chunk_tokens,
                           const std::string& label = "logprobs");

// A sequence-classification model's score of each example: `first` the chosen response (or the only
// one), `second` the rejected one (pairs).
struct DatasetRewards {
  std::vector<double> first, second;
};

DatasetRewards dataset_rewards(const model::CausalLM& m, const data::TokenizedDataset& d, int64_t batch_size, int64_t pad_id,
                               const std::string& label = "score");

}  // namespace prefer::train
