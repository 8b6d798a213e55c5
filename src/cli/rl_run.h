// What the online RL commands (ppo, grpo, rloo) share below their own method: the prompts (every line read
// and checked against the context first), the roles' options from the flags, the fingerprint, and the
// run with its summary.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "cli/option_set.h"
#include "cli/prompt_file.h"
#include "cli/rl_models.h"
#include "cli/train_run.h"
#include "data/pipeline.h"
#include "io/hf_config.h"
#include "train/online_trainer.h"
#include "util/json.h"

namespace prefer::cli {

// The options every online RL command has: model, adapter, prompts, output_dir, the rewards (one reward
// model for PPO; several with weights for GRPO and RLOO), the reward command and its time limit, the
// second judge, local_rollout_forward_batch_size and share_base.
void add_rl_options(OptionSet& s, bool several_rewards);

struct RlPrompts {
  std::vector<PromptRow> rows;
  std::vector<std::vector<int64_t>> ids;
  std::vector<std::string> texts;  // what completions.jsonl shows
  uint64_t hash = 0;               // of the token ids
};

// Every --data file's prompts; one whose length plus `completion_length` passes the model's context is
// an error naming it and `length_option`.
RlPrompts read_rl_prompts(const Json& o, const data::TextModel& text, const io::ModelConfig& cfg, int64_t completion_length,
                          const std::string& length_option);

// --model, --use_peft, LoRA, bf16, seed, merge, --reward_model(s), --reward_command, --command_timeout,
// --second_reward_model, --share_base, and the rollout's EOS ids, pad id, temperature and chunk.
RlModelOptions rl_model_options(const Json& o, const model::ModelSource& source, const data::TextModel& text, const io::ModelConfig& cfg,
                                int64_t completion_length, int64_t forward_batch_size);

// run_fingerprint plus the content hashes of the reward models.
Json rl_fingerprint(const Json& o, const model::ModelSource& source, const RlPrompts& prompts, const RlModelOptions& mo);

// Prints the roles' layout and weights, trains, prints the summary line.
RunSummary run_online(train::OnlineTrainer& trainer, const RlModels& models, const std::string& start_line, const std::string& method,
                      std::ostream& out);

}  // namespace prefer::cli
