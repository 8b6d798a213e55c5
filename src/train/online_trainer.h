// The loop of online RL (PPO, GRPO, RLOO), read top to bottom:
//
//   for each update (rows = per_device_train_batch_size x gradient_accumulation_steps x steps_per_pass
//                    completions: rows / group_size prompts, each sampled group_size times):
//     rollout: the policy samples a completion per row                       (no gradient, eval mode)
//     method.prepare: scores, reference, values, advantages                   (no gradient)
//     passes x steps_per_pass optimizer steps, each over gradient_accumulation_steps micro-batches of
//       per_device_train_batch_size rows in a seeded random order: method.micro_loss -> backward
//     schedule, log, completions.jsonl, monitor, checkpoint
//
// The method (OnlineMethod: PPO's value model and GAE, GRPO's and RLOO's group advantages) and the roles
// (OnlineRoles: where the policy, reference, value and reward weights live) come from the command, so
// the loop, its logs, checkpoints and resume are written once. Sampling and the mini-batch order are
// seeded per update (seed, update index), so a run resumed from checkpoint-N continues the curve of the
// uninterrupted run exactly.
#pragma once

#include <ATen/core/Tensor.h>

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "train/monitor.h"
#include "train/optimizer.h"
#include "train/rollout.h"
#include "train/trainer.h"

namespace prefer::train {

// The models as functions of a rollout's rows (which may be a micro-batch: Rollout::select).
struct OnlineRoles {
  // Completions for the prompts, sampled by the policy with this seed (rollout.h's sample_rollout).
  std::function<Rollout(const std::vector<std::vector<int64_t>>& prompts, uint64_t seed)> sample;
  // The policy's tempered log-probs [B, T] (differentiable while training) and, with `entropy`, each
  // row's mean entropy [B].
  std::function<at::Tensor(const Rollout&, at::Tensor* entropy)> policy_logprobs;
  std::function<at::Tensor(const Rollout&)> ref_logprobs;  // [B, T], no gradient; unset: no reference
  std::function<at::Tensor(const Rollout&)> values;        // [B, T] (differentiable while training); PPO only
  // The reward of each completion [B] float32 (no gradient); with several reward functions, their
  // weighted sum, each function's own column in `parts` when given ([B] each, by name).
  std::function<at::Tensor(const Rollout&, std::vector<std::pair<std::string, at::Tensor>>* parts)> scores;
  // Optional: a second judge's scores [B] of the same completions, never trained on.
  std::function<at::Tensor(const Rollout&)> second_scores;
  std::function<std::vector<NamedParam>()> trainable;      // the policy's (and the value model's)
  std::function<void(bool)> set_training;                  // dropout on (updates) or off (rollouts)
  std::function<void(const std::filesystem::path&)> save_checkpoint, load_checkpoint, save_final;
  // Text of token ids, for completions.jsonl.
  std::function<std::string(const std::vector<int64_t>&)> decode;
};

// One update's rollout and what the method computed from it.
struct OnlineUpdate {
  Rollout rollout;
  at::Tensor scores;                                    // [N] the reward of each completion (completions.jsonl)
  at::Tensor kl;                                        // [N] KL of each completion to the reference, or undefined
  std::vector<std::pair<std::string, double>> metrics;  // this update's metrics, in logging order
  std::map<std::string, at::Tensor> tensors;            // the method's own ([N, ...] each)
};

// A method: what it computes from a rollout, and the loss of a micro-batch.
class OnlineMethod {
 public:
  virtual ~OnlineMethod() = default;
  // Completions per prompt (GRPO's num_generations; 1 for PPO).
  virtual int64_t group_size() const { return 1; }
  // Everything the loss needs (no gradient), with per-update metrics. `kl_coef` is the KL coefficient in
  // effect (PPO's adaptive controller may move it).
  virtual void prepare(OnlineUpdate& update, OnlineRoles& roles, int64_t chunk, double kl_coef) = 0;
  // The loss of micro-batch `rows` of the update (`sub` = those rows), scaled so that backward over the
  // optimizer step's micro-batches gives the step's gradient; its metrics (averaged over the update's
  // micro-batches when logged).
  virtual at::Tensor micro_loss(const OnlineUpdate& update, const Rollout& sub, const at::Tensor& rows, OnlineRoles& roles,
                                std::map<std::string, double>& metrics) = 0;
  // Micro-batch metrics to log as <name> from <key> ("policy/clipfrac_avg" <- "policy/clipfrac"), in
  // order; keys not listed are logged under their own name.
  virtual std::vector<std::pair<std::string, std::string>> micro_metric_names() const { return {}; }
  // The adaptive KL controller's new coefficient after an update, when the method has one.
  virtual double next_kl_coef(const OnlineUpdate&, double kl_coef) { return kl_coef; }
  virtual double initial_kl_coef() const { return 0; }
  // What the command's progress line shows.
  virtual std::string status(const std::map<std::string, double>& window_means) const = 0;
};

struct OnlineArgs {
  TrainerArgs trainer;            // learning_rate, batch sizes, schedule, logging/saving, seed
  std::string label = "ppo";      // the progress bar's
  int64_t passes = 1;             // num_ppo_epochs / num_iterations over each update's rows
  int64_t steps_per_pass = 1;     // optimizer steps per pass (PPO's num_mini_batches; GRPO: steps_per_generation / GA)
  // The logged "step": the update (PPO, as TRL's PPOTrainer) or the optimizer step (GRPO, RLOO); the
  // schedule follows the same unit, and max_steps, logging_steps and save_steps count it.
  bool step_is_update = true;
  int64_t total_episodes = 0;     // completions to train on; 0: num_train_epochs x prompts x group_size
  int64_t forward_batch_size = 64;  // local_rollout_forward_batch_size
  std::vector<int64_t> eos_token_ids;  // val/num_eos_tokens, completions/clipped_ratio
  int64_t response_length = 53;
  int64_t samples_per_log = 4;    // rows of completions.jsonl per logged update
};

class OnlineTrainer {
 public:
  // `prompts` are token ids, `prompt_texts` what completions.jsonl shows for each.
  OnlineTrainer(OnlineArgs args, OnlineRoles roles, std::unique_ptr<OnlineMethod> method, std::vector<std::vector<int64_t>> prompts,
                std::vector<std::string> prompt_texts, Json fingerprint);
  void set_monitor_rules(std::function<std::vector<MonitorRule>(int64_t total_steps)> rules) { rules_ = std::move(rules); }
  void set_preflight(std::vector<TrainingWarning> w) { preflight_ = std::move(w); }
  void set_model_card(std::function<std::string(const TrainResult&)> card) { model_card_ = std::move(card); }
  // Runs every update (or up to max_steps) and writes final/.
  TrainResult train();

  int64_t total_updates() const { return total_updates_; }
  // Logged steps of the run (updates, or optimizer steps).
  int64_t total_steps() const { return total_updates_ * step_unit_; }
  int64_t rows_per_update() const { return rows_; }

 private:
  OnlineArgs args_;
  OnlineRoles roles_;
  std::unique_ptr<OnlineMethod> method_;
  std::vector<std::vector<int64_t>> prompts_;
  std::vector<std::string> prompt_texts_;
  Json fingerprint_;
  std::function<std::vector<MonitorRule>(int64_t)> rules_;
  std::vector<TrainingWarning> preflight_;
  std::function<std::string(const TrainResult&)> model_card_;
  int64_t rows_ = 0, prompts_per_update_ = 0, updates_per_epoch_ = 0, total_updates_ = 0, step_unit_ = 1;
};

// A 0-dim tensor's value as a double (metrics).
inline double scalar_value(const at::Tensor& t) { return t.to(at::kDouble).item<double>(); }

// f over a rollout's rows `chunk` at a time (the scoring forwards), concatenated along dim 0 on the CPU.
at::Tensor chunked_rows(const Rollout& r, int64_t chunk, const std::function<at::Tensor(const Rollout&)>& f);

// What the mode-collapse checks read of a batch of completions: distinct bigrams / all bigrams
// (completions/distinct_2; 1 = no repetition) and the share of completions equal to a completion of
// another, different prompt (completions/duplicate_ratio).
double distinct_bigram_ratio(const std::vector<std::vector<int64_t>>& responses);
// The share of completions equal to another completion of their own group (G in a row): a group that
// answers alike gives GRPO no signal (completions/group_duplicate_ratio).
double group_duplicate_ratio(const std::vector<std::vector<int64_t>>& responses, int64_t group_size);
double duplicate_response_ratio(const std::vector<std::vector<int64_t>>& prompts, const std::vector<std::vector<int64_t>>& responses);

}  // namespace prefer::train
