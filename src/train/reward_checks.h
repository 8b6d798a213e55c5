// What can go wrong in a reward-model run, in plain words: the monitor rules `prefer reward` installs.
//   rm_accuracy_near_chance   accuracy within 0.5 +- 0.05 after 20% of training (labels swapped, a
//                             masking or padding bug, or a learning rate that does nothing)
//   rm_eval_accuracy_gap      the last eval accuracy more than 0.15 under the recent train accuracy
//   rm_rewards_drifting       |mean_reward| above 5 without center_rewards_coefficient
//   rm_length_bias            at the end: the correlation between reward difference and length
//                             difference over the eval pairs (train pairs without eval) above 0.5
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "train/monitor.h"

namespace prefer::train {

struct RewardCheckOptions {
  int64_t total_steps = 0;
  bool centring = false;         // center_rewards_coefficient is set
  double pairs_per_log = 0;      // evidence behind one logged row
  // At the end: (reward difference, length difference) per pair, computed with the trained model.
  std::function<std::vector<std::pair<double, double>>()> length_pairs;
  std::string length_set = "eval";  // which pairs length_pairs scores, for the message
};

std::vector<MonitorRule> reward_monitor_rules(const RewardCheckOptions& options);

// Pearson's correlation of the pairs (0 when either side has no variance).
double pearson(const std::vector<std::pair<double, double>>& xy);

}  // namespace prefer::train
