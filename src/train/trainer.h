// The training loop, method-agnostic, read top to bottom:
//
//   for each optimizer step:
//     for each of gradient_accumulation_steps micro-batches:  batch -> forward -> objective -> backward
//     clip -> optimizer step -> schedule -> log -> eval -> checkpoint
//
// Accumulation divides each micro-batch's loss sum by the step's total weight (training_task.h), so batch
// 4 x accumulation 1 and batch 1 x accumulation 4 give the same update, for pair and token means alike.
// SIGINT / SIGTERM finish the current optimizer step, write a checkpoint and throw Interrupted (a second
// signal stops at once). Checkpoints (checkpoint-N/) hold the trainable
// weights, the optimizer, the data position, the RNG and the open logging window, so a resumed run
// continues the loss curve exactly; final/ appears only when training completed.
//
// Data parallel (launched by `prefer launch` or torchrun): every rank takes its slice of each global
// micro-batch, divides its loss sum by the step's global weight (known to every rank from the data
// alone), and the gradients are summed across ranks before clipping, so N workers x batch b equal one
// worker x batch N*b. Metrics are reduced before logging; rank 0 alone writes the run folder.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "data/tokenized_dataset.h"
#include "train/monitor.h"
#include "train/training_task.h"
#include "train/training_warning.h"
#include "util/json.h"

namespace prefer::train {

// transformers.TrainingArguments names and defaults (where a CPU run does not need another one).
struct TrainerArgs {
  std::filesystem::path output_dir;
  double learning_rate = 1e-6;  // TRL's DPOConfig default
  std::string lr_scheduler_type = "linear";
  double warmup_ratio = 0.0;
  int64_t warmup_steps = 0;
  double num_train_epochs = 3.0;
  int64_t max_steps = -1;  // > 0 overrides num_train_epochs
  int64_t per_device_train_batch_size = 8;
  int64_t per_device_eval_batch_size = 8;
  int64_t gradient_accumulation_steps = 1;
  double max_grad_norm = 1.0;  // 0 = no clipping (the norm is still logged)
  double weight_decay = 0.0;
  double adam_beta1 = 0.9, adam_beta2 = 0.999, adam_epsilon = 1e-8;
  uint64_t seed = 42;
  int64_t logging_steps = 10;
  int64_t eval_steps = 0;  // 0 = logging_steps (when there is eval data)
  int64_t save_steps = 500;
  int64_t save_total_limit = 0;  // 0 = keep every checkpoint
  bool group_by_length = true;
  std::string resume_from_checkpoint;  // a checkpoint folder, or "latest"
  bool ignore_resume_mismatch = false;  // resume even when the fingerprint (model, data, options) differs
  // transformers' load_best_model_at_end, always on when set: the eval metric (with or without its eval_
  // prefix) whose best value's model final/ holds; kept in best_model/ as training goes. greater_is_better
  // unset: true unless the metric ends in "loss".
  std::string metric_for_best_model;
  std::optional<bool> greater_is_better;
  bool show_progress = true;
  // Data parallelism (train/distributed.h): seconds a collective may wait for the other workers.
  int64_t ddp_timeout = 1800;
  // ZeRO stage 1: each rank keeps the AdamW moments of its shard of the parameters (contiguous, by
  // size), updates only that shard and broadcasts it. 0 = every rank keeps everything.
  int64_t zero_stage = 0;
  std::string command = "prefer";       // how the user started the run ("prefer sft"), for resume hints

  // One sentence per broken rule, naming the option.
  void validate() const;
};

// Thrown when SIGINT or SIGTERM stopped training after a checkpoint was written: the command line exits
// with `exit_code` (130 / 143, as shells report these signals) after printing `message`.
struct Interrupted {
  int signal = 0;
  int exit_code = 0;
  std::string message;
};

// A logged row: the JSON object written to metrics.jsonl. Callbacks see every row (the monitor).
using LogCallback = std::function<void(const Json& row)>;

struct TrainResult {
  int64_t steps = 0;
  double seconds = 0;
  std::vector<Json> log;  // every metrics.jsonl row of this process (train and eval)
  std::vector<TrainingWarning> warnings;  // every warning raised by this process (pre-flight included)
  std::filesystem::path final_dir;
  bool main = true;  // this process is rank 0 (the one that writes final/ and the report)
};

class Trainer {
 public:
  Trainer(TrainerArgs args, TrainingTask task, const data::TokenizedDataset& train,
          const data::TokenizedDataset* eval = nullptr);
  void on_log(LogCallback cb) { callbacks_.push_back(std::move(cb)); }
  // The training monitor's settings (total_steps is filled in); without this call no monitor runs.
  void set_monitor(MonitorOptions options) {
    set_monitor_rules([options](int64_t total) {
      MonitorOptions o = options;
      o.total_steps = total;
      return dpo_monitor_rules(o);
    });
  }
  // A command's own rules, built once the number of steps is known.
  void set_monitor_rules(std::function<std::vector<MonitorRule>(int64_t total_steps)> rules) { rules_ = std::move(rules); }
  // Pre-flight warnings, written to warnings.jsonl (step 0) when a new run starts.
  void set_preflight(std::vector<TrainingWarning> warnings) { preflight_ = std::move(warnings); }
  // Runs to the end (or to max_steps) and writes final/. Throws prefer::Error when the loss becomes
  // NaN/Inf (after writing nonfinite_batch.json with the offending example lines).
  TrainResult train();

  int64_t total_steps() const { return total_steps_; }
  int64_t steps_per_epoch() const { return steps_per_epoch_; }
  // Runs the eval set without gradients and returns eval_-prefixed means.
  Json evaluate();
  // The metrics the progress line shows after the loss (the command's own: DPO's margins and accuracies).
  void set_status_metrics(std::vector<std::string> keys) { status_metrics_ = std::move(keys); }
  // A README.md written into final/ (the model card), from the finished run's result.
  void set_model_card(std::function<std::string(const TrainResult&)> card) { model_card_ = std::move(card); }

 private:
  TrainerArgs args_;
  TrainingTask task_;
  const data::TokenizedDataset& train_;
  const data::TokenizedDataset* eval_;
  std::vector<LogCallback> callbacks_;
  std::function<std::vector<MonitorRule>(int64_t)> rules_;
  std::vector<TrainingWarning> preflight_;
  std::function<std::string(const TrainResult&)> model_card_;
  std::vector<std::string> status_metrics_;
  BatchList epoch_batches(const data::TokenizedDataset& d, const data::SamplerOptions& so, int64_t epoch) const;
  // One epoch's global micro-batches, each as its per-rank parts (one part when training alone): the
  // sampler's batches of per_device x world examples cut into contiguous slices, so the data order is
  // the same for any world size with the same global batch. Packed batches (a command's own batches)
  // go whole, world consecutive ones per global micro-batch.
  std::vector<BatchList> global_batches(const data::TokenizedDataset& d, int64_t epoch) const;
  int64_t total_steps_ = 0, steps_per_epoch_ = 0, batches_per_epoch_ = 0;
};

// The newest checkpoint-N folder of a run, or empty.
std::filesystem::path latest_checkpoint(const std::filesystem::path& output_dir);

}  // namespace prefer::train
