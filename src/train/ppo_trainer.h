// The PPO loop of RLHF (TRL's PPOTrainer), read top to bottom:
//
//   for each update (a batch of local_batch_size = per_device_train_batch_size x
//                    gradient_accumulation_steps x num_mini_batches prompts):
//     rollout: sample responses -> reference log-probs, values, scores   (no gradient, eval mode)
//     ppo_rollout: per-token KL penalty + score, GAE, whitened advantages (objectives/ppo.h)
//     num_ppo_epochs x num_mini_batches optimizer steps of the clipped policy + value loss,
//       each over gradient_accumulation_steps micro-batches of per_device_train_batch_size rows
//     schedule step (once per update, as TRL), log, completions.jsonl, monitor, checkpoint
//
// The roles (policy, reference, value, reward) come from the command as functions (PpoRoles), so the
// loop is the same for four separate models and for one shared base with adapter sets. Sampling and the
// mini-batch order are seeded per update (seed, update index), so a run resumed from checkpoint-N
// continues the curve of the uninterrupted run exactly.
#pragma once

#include <ATen/core/Tensor.h>

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "objectives/ppo.h"
#include "train/monitor.h"
#include "train/optimizer.h"
#include "train/rollout.h"
#include "train/trainer.h"

namespace prefer::train {

struct PpoRoles {
  // Responses for the prompts, sampled by the policy with this seed (rollout.h's sample_rollout).
  std::function<Rollout(const std::vector<std::vector<int64_t>>& prompts, uint64_t seed)> sample;
  // The policy's tempered log-probs [B, T] (differentiable while training) and, with `entropy`, each
  // row's mean entropy [B].
  std::function<at::Tensor(const Rollout&, at::Tensor* entropy)> policy_logprobs;
  std::function<at::Tensor(const Rollout&)> ref_logprobs;  // [B, T], no gradient
  std::function<at::Tensor(const Rollout&)> values;        // [B, T] (differentiable while training)
  std::function<at::Tensor(const Rollout&)> scores;        // [B] float32, no gradient
  // Optional: a second judge's scores [B] of the same responses, never trained on (logged as
  // objective/second_scores for the reward-hacking check).
  std::function<at::Tensor(const Rollout&)> second_scores;
  std::function<std::vector<NamedParam>()> trainable;      // the policy's and the value model's
  std::function<void(bool)> set_training;                  // dropout on (updates) or off (rollouts)
  std::function<void(const std::filesystem::path&)> save_checkpoint, load_checkpoint, save_final;
  // Text of token ids, for completions.jsonl.
  std::function<std::string(const std::vector<int64_t>&)> decode;
};

struct PpoArgs {
  TrainerArgs trainer;  // learning_rate, batch sizes, schedule, logging/saving, seed; max_steps caps the updates
  objectives::PpoConfig ppo;
  int64_t num_ppo_epochs = 4;
  int64_t num_mini_batches = 1;
  int64_t total_episodes = 0;            // 0: num_train_epochs x the number of prompts
  int64_t forward_batch_size = 64;       // local_rollout_forward_batch_size
  std::vector<int64_t> eos_token_ids;    // val/num_eos_tokens counts these
  int64_t response_length = 53;          // completions/clipped_ratio: responses that reached it
  int64_t samples_per_log = 4;           // rows of completions.jsonl per logged update
};

class PpoTrainer {
 public:
  // `prompts` are token ids, `prompt_texts` what completions.jsonl shows for each.
  PpoTrainer(PpoArgs args, PpoRoles roles, std::vector<std::vector<int64_t>> prompts, std::vector<std::string> prompt_texts,
             Json fingerprint);
  void set_monitor_rules(std::function<std::vector<MonitorRule>(int64_t total_steps)> rules) { rules_ = std::move(rules); }
  void set_preflight(std::vector<TrainingWarning> w) { preflight_ = std::move(w); }
  void set_model_card(std::function<std::string(const TrainResult&)> card) { model_card_ = std::move(card); }
  // Runs every update (or up to max_steps) and writes final/.
  TrainResult train();

  int64_t total_steps() const { return total_updates_; }
  int64_t local_batch_size() const { return local_batch_; }

 private:
  PpoArgs args_;
  PpoRoles roles_;
  std::vector<std::vector<int64_t>> prompts_;
  std::vector<std::string> prompt_texts_;
  Json fingerprint_;
  std::function<std::vector<MonitorRule>(int64_t)> rules_;
  std::vector<TrainingWarning> preflight_;
  std::function<std::string(const TrainResult&)> model_card_;
  int64_t local_batch_ = 0, mini_batch_ = 0, batches_per_epoch_ = 0, total_updates_ = 0;
};

// What the mode-collapse check reads of a batch of responses: distinct bigrams / all bigrams
// (completions/distinct_2; 1 = no repetition) and the share of responses equal to a response of another,
// different prompt (completions/duplicate_ratio).
double distinct_bigram_ratio(const std::vector<std::vector<int64_t>>& responses);
double duplicate_response_ratio(const std::vector<std::vector<int64_t>>& prompts, const std::vector<std::vector<int64_t>>& responses);

}  // namespace prefer::train
