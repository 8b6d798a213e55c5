// The failure modes of online RL (PPO, GRPO, RLOO), watched on the logged rows
// (TRL's metric names plus prefer's completions/*) and reported in plain words with the update and the
// numbers behind each:
//   reward_hacking          objective/scores rose by > score_rise while objective/kl passed kl_bound
//   reward_hacking_second_judge  objective/scores rose by > score_rise while objective/second_scores (a
//                           second reward model's scores of the same responses, when given) fell by > second_drop
//   kl_blowup               objective/kl above kl_blowup (nats per response)
//   negative_kl             objective/kl below -negative_kl with the k1 estimator
//   response_length_collapse  completions/mean_length fell below length_collapse x its first value
//   response_length_explosion completions/clipped_ratio above 0.9 where it started below 0.5
//   mode_collapse           completions/distinct_2 below distinct_floor x its first value, or
//                           completions/duplicate_ratio above duplicate_ratio (same text for different prompts)
//   value_loss_diverging    loss/value_avg above value_growth x the mean of its first 3 values (and above 1),
//                           from the 5th log on
//   clipfrac_high           policy/clipfrac_avg above clipfrac_high (mean of the last logs, from the 3rd log on)
//   no_eos                  val/num_eos_tokens 0 (PPO), or completions/clipped_ratio 1 (GRPO, RLOO), in every log
//                           from a fifth of the run on
//   reward_signal_missing   frac_reward_zero_std above zero_std_high (GRPO, RLOO: groups whose completions all
//                           score the same teach nothing), mean of the last logs from the 3rd log on
//   group_collapse          completions/group_duplicate_ratio above duplicate_ratio (a prompt's completions alike)
// "Recent" values are the mean of the last 3 logs (never the first), as the DPO monitor does.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "train/monitor.h"

namespace prefer::train {

struct RlCheckOptions {
  int64_t total_steps = 0;
  std::string method = "PPO";
  // The metric names of the method: PPO's (objective/scores, objective/kl: nats per response) or GRPO's and
  // RLOO's (reward, kl: nats per token), with their bounds.
  std::string score_key = "objective/scores";
  std::string kl_key = "objective/kl";
  std::string kl_unit = "nats per response";
  std::string length_option = "response_length";
  std::string eos_advice = "set missing_eos_penalty so that ending pays";
  std::string kl_advice = "Raise kl_coef, or let an adaptive controller hold the KL near a target (--adap_kl_ctrl --target 6)";
  bool k1 = true;                  // the KL estimator is k1 (negative estimates possible)
  bool adaptive_kl = false;        // the advice differs when the controller is already on
  double kl_bound = 10.0;          // nats per response: past it, a rising score is suspect
  double score_rise = 0.5;
  double second_drop = 0.1;
  double kl_blowup = 25.0;
  double negative_kl = 0.5;
  double length_collapse = 0.3;
  double distinct_floor = 0.5;
  double duplicate_ratio = 0.5;
  double value_growth = 10.0;
  double clipfrac_high = 0.3;
  double zero_std_high = 0.8;
  int smoothing_window = 3;
};

std::vector<MonitorRule> rl_monitor_rules(const RlCheckOptions& options);

}  // namespace prefer::train
