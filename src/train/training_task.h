// What the trainer loop needs from a method (DPO, SFT, reward, ...): compute one micro-batch, say how
// many items its loss is a sum over, name the trainable parameters, and save or restore them. The loop
// itself is method-agnostic (trainer.h).
//
// Accounting (Marian's RationalLoss, TRL's num_items_in_batch): a micro-step returns a differentiable
// loss *sum* and its weight (pairs for DPO and reward models, loss tokens for SFT). The trainer asks
// `weight` for every micro-batch of an optimizer step before running any of them, and back-propagates
// loss_sum / (the step's total weight), so the step's gradient is that of the mean over the whole step:
// batch 4 x accumulation 1 equals batch 1 x accumulation 4 for token means too.
#pragma once

#include <ATen/core/Tensor.h>

#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "data/sampler.h"
#include "data/tokenized_dataset.h"
#include "objectives/metrics.h"
#include "train/optimizer.h"
#include "util/json.h"

namespace prefer::train {

// One metric of a micro-batch as (Σ value x weight, Σ weight): summed over micro-batches and steps and
// divided once per logging window, so a token-weighted metric (SFT accuracy) and a pair-weighted one
// (DPO margins) are both exact means over the window. `sum` is a 0-dim detached tensor: the trainer
// reads it back once per window, not once per micro-batch.
struct MetricSum {
  at::Tensor sum;
  double weight = 0;
};
using MetricSums = std::map<std::string, MetricSum>;

// Adds per-batch means (an objective's Metrics) as sums of `weight` items each.
void add_means(MetricSums& out, const objectives::Metrics& means, double weight);

struct MicroStep {
  at::Tensor loss_sum;          // [] Σ of the items' losses, differentiable when training
  double weight = 0;            // items behind loss_sum; equals TrainingTask::weight for the same examples
  MetricSums metrics;           // TRL names
  int64_t examples = 0;         // examples in the micro-batch (pairs for DPO)
  int64_t tokens = 0;           // real tokens processed (policy forward)
  std::vector<int64_t> lines;   // source lines of the examples (reported when the loss is not finite)
};

using BatchList = std::vector<std::vector<size_t>>;

struct TrainingTask {
  std::function<MicroStep(const data::TokenizedDataset&, const std::vector<size_t>&, bool train)> step;
  // The weight of a micro-batch, known without running it. Unset: the number of examples.
  std::function<double(const data::TokenizedDataset&, const std::vector<size_t>&)> weight;
  // The micro-batches of one epoch (dataset indices). Unset: data::epoch_batches (shuffled, length
  // grouped). SFT with packing returns the examples of whole packed rows.
  std::function<BatchList(const data::TokenizedDataset&, const data::SamplerOptions&, int64_t epoch)> batches;
  std::function<std::vector<NamedParam>()> trainable;
  // Checkpoints: the trainable state only (full weights, or the adapter).
  std::function<void(const std::filesystem::path& dir)> save_checkpoint;
  std::function<void(const std::filesystem::path& dir)> load_checkpoint;
  // The run's result in final/ (an HF model folder or a PEFT adapter folder).
  std::function<void(const std::filesystem::path& dir)> save_final;
  // More eval_ metrics computed by the command at every evaluation (the judged win rate of
  // --eval_prompts); evaluations happen on its account even without an eval dataset.
  std::function<Json()> extra_eval;
  // What a resumed run must share with the run that wrote the checkpoint: name -> value (hashes of the
  // model and data files, the options that change the numbers). Stored in trainer_state.json.
  Json fingerprint = Json::object();
};

}  // namespace prefer::train
