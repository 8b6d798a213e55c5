// The scalar head of reward and value models, in HF's AutoModelForSequenceClassification layout:
// `score.weight` [num_labels, hidden] (no bias) on top of the same transformer body ("model.*"), read at
// the last real token of each row. Loading and saving go through the loader and save_pretrained like
// any other weight (config.json says XForSequenceClassification, num_labels).
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>

namespace prefer::model {

class CausalLM;

// The slot of the last real token of each row: the rightmost true entry of key_mask [B, T] -> [B]
// int64 (T - 1 for left padding, length - 1 for right padding). A row without real tokens is an error.
at::Tensor last_real_index(const at::Tensor& key_mask);

// Rewards [B, num_labels] (float32; float64 for a float64 model): score.weight applied to hidden
// [B, T, H] at each row's last real token. Differentiable.
at::Tensor scalar_head(const CausalLM& model, const at::Tensor& hidden, const at::Tensor& key_mask);

// Values at every slot [B, T, num_labels] (PPO's value model reads one per response token).
at::Tensor scalar_head_all(const CausalLM& model, const at::Tensor& hidden);

// Turns a causal LM into a reward/value model: score.weight [num_labels, hidden] drawn from
// normal(0, std) with `seed` (transformers initialises a new head with initializer_range, 0.02).
void add_scalar_head(CausalLM& model, int64_t num_labels = 1, uint64_t seed = 0, double std = 0.02);

}  // namespace prefer::model
