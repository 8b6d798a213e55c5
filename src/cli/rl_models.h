// The roles of online RL (`prefer ppo`: policy, reference, value, reward; `prefer grpo` / `prefer rloo`:
// policy, reference when beta > 0, rewards) and where their weights live.
//
// With LoRA (use_peft) one copy of the base weights serves every role, the adapters switched per role
// (model/adapter_bank.h):
//   policy     base + adapter "policy" (trained) + LM head
//   reference  base, adapters off
//   value      base + adapter "value" (trained) + value head [1, H] (trained): a copy of the reward
//              adapter and its score head when the reward model is a SEQ_CLS adapter on this base (TRL
//              initialises the value model from the reward model), else a fresh adapter and head
//   reward     base + adapter "reward" + score head, when the reward model is such an adapter; else
//              its own model
// With full fine-tuning (or share_base false, for comparison) each role has its own model: the policy,
// a frozen copy for the reference, the value model loaded from the reward model (or the policy's base
// with a fresh head under --reward_command), and the reward model.
//
// Rewards come from reward models, each re-tokenizing prompt + decoded response with its own tokenizer
// and template when that differs from the policy's, and/or from --reward_command (the external-program
// protocol: JSONL items in, one number per line out); several are summed with reward_weights. Only the
// first reward model can run as an adapter on the shared base.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "cli/policy.h"
#include "cli/prompt_file.h"
#include "data/pipeline.h"
#include "model/adapter_bank.h"
#include "train/online_trainer.h"
#include "train/rollout.h"

namespace prefer::cli {

struct RlModelOptions {
  PolicyOptions policy;                              // source, dtype, use_peft, lora, seed, merge
  std::optional<model::ModelSource> reward_source;   // the first reward model (none: reward_command only)
  std::vector<model::ModelSource> more_reward_sources;  // GRPO / RLOO: further reward models, each its own model
  std::vector<double> reward_weights;                // one per reward function (models, then the command); empty: 1 each
  bool value = true;                                 // PPO's value model
  bool reference = true;                             // false: no reference is loaded or run (beta 0)
  std::optional<model::ModelSource> second_reward_source;  // a second judge for the reward-hacking check
  std::string reward_command;
  double command_timeout = 600;
  bool share_base = true;                            // with use_peft: one base for every role
  train::ScoreRead score_read = train::ScoreRead::kLastToken;
  train::RolloutOptions rollout;                     // temperature, response_length, eos, stop, pad, chunk
};

class RlModels {
 public:
  // `text` is the policy's tokenizer side, `rows` the prompts file's rows (the reward command and a
  // re-tokenizing reward model read their original prompt).
  RlModels(RlModelOptions options, const data::TextModel& text, const std::vector<PromptRow>& rows);
  RlModels(const RlModels&) = delete;
  RlModels& operator=(const RlModels&) = delete;
  ~RlModels();

  train::OnlineRoles roles();
  // One line per role (its weights and where they live) and what sharing the base saved.
  std::string memory_report() const;
  // How the roles are laid out, for the start-up line.
  std::string describe() const;

  // The reward of given rollouts (the weighted sum of the reward functions; each one's column in `parts`).
  at::Tensor scores(const train::Rollout& r, std::vector<std::pair<std::string, at::Tensor>>* parts = nullptr);

 private:
  struct Role {
    model::CausalLM* model = nullptr;
    model::AdapterBank* bank = nullptr;  // null: the model as it is
    std::string set;                     // the bank's set; "" = adapters off
    at::Tensor head;                     // [1, H] value / reward head
    at::Tensor hidden(const train::Rollout& r) const;
  };
  void build_shared();
  void build_separate();
  // Scores of a reward role; `own_text` is its tokenizer when it differs from the policy's (re-tokenize).
  at::Tensor model_scores(const train::Rollout& r, const Role& role, const data::TextModel* own_text);
  at::Tensor command_scores(const train::Rollout& r);
  const PromptRow& row_of(const std::vector<int64_t>& prompt) const;
  std::vector<train::NamedParam> value_trainable() const;
  // The value role trains an adapter and a head (LoRA), not a whole model.
  bool value_adapter() const { return opt_.value && opt_.policy.use_peft; }

  RlModelOptions opt_;
  const data::TextModel& text_;
  const std::vector<PromptRow>& rows_;
  std::map<std::vector<int64_t>, size_t> row_index_;
  std::unique_ptr<Policy> policy_;
  std::unique_ptr<model::AdapterBank> bank_;            // on the policy's model (shared base)
  std::optional<model::CausalLM> reference_model_, value_model_, reward_model_;
  std::unique_ptr<model::AdapterBank> value_bank_;      // separate value model with LoRA
  std::unique_ptr<data::TextModel> reward_text_;        // the reward model's tokenizer, when it differs
  bool reward_retokenize_ = false;
  Role policy_role_, reference_role_, value_role_, reward_role_, second_role_;
  std::vector<std::unique_ptr<model::CausalLM>> more_models_;
  std::vector<Role> more_roles_;
  std::vector<std::unique_ptr<data::TextModel>> more_texts_;  // null where the tokenizer is the policy's
  std::optional<model::CausalLM> second_model_;
  std::unique_ptr<data::TextModel> second_text_;
  std::string layout_;
};

}  // namespace prefer::cli
