// What can go wrong in an SFT run, in plain words: the monitor rules `prefer sft` installs, and the
// data checks it reports before training (step 0).
//   sft_loss_not_falling        the training loss fell by less than 2% of its first logged value, at
//                               >= 20% of the steps or at the end
//   sft_memorising              the eval loss rose above its best while the train loss sits far below
//                               it (gap > 0.3 nats and > 25% of the eval loss)
//   sft_completions_truncated   more than 5% of the examples lost completion tokens to max_length
//   sft_template_without_assistant_markers  conversations, and the chat template has no
//                               {% generation %} blocks: every token of every turn is trained on,
//                               the user's included
#pragma once

#include <cstdint>
#include <vector>

#include "train/monitor.h"
#include "train/training_warning.h"

namespace prefer::train {

std::vector<MonitorRule> sft_monitor_rules(int64_t total_steps);

struct SftDataFacts {
  int64_t examples = 0;
  int64_t truncated = 0;            // examples whose completion was cut
  bool conversational = false;
  bool template_has_generation = false;
  bool assistant_only_loss = false;
};
std::vector<TrainingWarning> sft_data_checks(const SftDataFacts& facts);

}  // namespace prefer::train
