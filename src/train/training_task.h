// What the trainer loop needs from a method (DPO, SFT, ...): compute one micro-batch, name the
// trainable parameters, and save or restore them. The loop itself is method-agnostic (trainer.h).
#pragma once

#include <ATen/core/Tensor.h>

#include <filesystem>
#include <functional>
#include <vector>

#include "data/tokenized_dataset.h"
#include "objectives/metrics.h"
#include "train/optimizer.h"

namespace prefer::train {

struct MicroStep {
  at::Tensor loss;              // [] mean over the micro-batch's examples, differentiable when training
  objectives::Metrics metrics;  // per-batch means, TRL names
  int64_t examples = 0;         // pairs for DPO
  int64_t tokens = 0;           // real tokens processed (policy forward)
  std::vector<int64_t> lines;   // source lines of the examples (reported when the loss is not finite)
};

struct TrainingTask {
  std::function<MicroStep(const data::TokenizedDataset&, const std::vector<size_t>&, bool train)> step;
  std::function<std::vector<NamedParam>()> trainable;
  // Checkpoints: the trainable state only (full weights, or the adapter).
  std::function<void(const std::filesystem::path& dir)> save_checkpoint;
  std::function<void(const std::filesystem::path& dir)> load_checkpoint;
  // The run's result in final/ (an HF model folder or a PEFT adapter folder).
  std::function<void(const std::filesystem::path& dir)> save_final;
};

}  // namespace prefer::train
