#include "train/reward_checks.h"

#include <fmt/format.h>

#include <cmath>

namespace prefer::train {

double pearson(const std::vector<std::pair<double, double>>& xy) {
  const double n = static_cast<double>(xy.size());
  if (xy.size() < 2) return 0;
  double mx = 0, my = 0;
  for (const auto& [x, y] : xy) mx += x / n, my += y / n;
  double sxy = 0, sxx = 0, syy = 0;
  for (const auto& [x, y] : xy) sxy += (x - mx) * (y - my), sxx += (x - mx) * (x - mx), syy += (y - my) * (y - my);
  return sxx > 0 && syy > 0 ? sxy / std::sqrt(sxx * syy) : 0.0;
}

std::vector<MonitorRule> reward_monitor_rules(const RewardCheckOptions& o) {
  std::vector<MonitorRule> rules;
  rules.push_back({MonitorRule::kTrain | MonitorRule::kFinish, [o](const MetricHistory& h, bool final_check) -> std::optional<TrainingWarning> {
    if (!run_reached(h, o.total_steps, 0.2, final_check)) return std::nullopt;
    auto s = metric_series(h.train, "accuracy");
    if (s.size() < 2) return std::nullopt;
    const int k = 3;
    if (o.pairs_per_log > 0 && o.pairs_per_log * std::min<double>(k, static_cast<double>(s.size() - 1)) < 32) return std::nullopt;
    const double acc = recent_mean(s, k);
    if (!(std::abs(acc - 0.5) <= 0.05)) return std::nullopt;
    return TrainingWarning{.id = "rm_accuracy_near_chance", .step = s.back().step,
                           .message = fmt::format("At step {} the reward model ranks chosen above rejected in {}% of pairs "
                                                  "(mean of the last logs): no better than a coin after a fifth of training. "
                                                  "Check that chosen and rejected are not swapped for part of the data, that "
                                                  "the rows end where the text ends (prefer tokenize), and that learning_rate "
                                                  "is not far too small (TRL's default is 1e-4).",
                                                  s.back().step, warning_number(100 * acc)),
                           .evidence = {{"accuracy", acc}}};
  }});
  rules.push_back({MonitorRule::kEval | MonitorRule::kFinish, [](const MetricHistory& h, bool) -> std::optional<TrainingWarning> {
    auto ev = metric_series(h.eval, "eval_accuracy");
    auto tr = metric_series(h.train, "accuracy");
    if (ev.empty() || tr.size() < 2) return std::nullopt;
    const double train = recent_mean(tr, 3), eval = ev.back().value;
    if (!(train - eval > 0.15)) return std::nullopt;
    return TrainingWarning{.id = "rm_eval_accuracy_gap", .step = ev.back().step,
                           .message = fmt::format("At step {} the eval accuracy is {} against {} on the training pairs: the "
                                                  "reward model fits its training pairs but does not generalise, and PPO "
                                                  "will exploit its mistakes. Train fewer epochs, use more or more varied "
                                                  "pairs, or a lower learning_rate.",
                                                  ev.back().step, warning_number(eval), warning_number(train)),
                           .evidence = {{"eval_accuracy", eval}, {"accuracy", train}}};
  }});
  if (!o.centring)
    rules.push_back({MonitorRule::kTrain | MonitorRule::kFinish, [](const MetricHistory& h, bool) -> std::optional<TrainingWarning> {
      auto s = metric_series(h.train, "mean_reward");
      if (s.empty() || !(std::abs(s.back().value) > 5)) return std::nullopt;
      return TrainingWarning{.id = "rm_rewards_drifting", .step = s.back().step,
                             .message = fmt::format("At step {} the mean reward is {}: rewards are drifting far from 0. The "
                                                    "Bradley-Terry loss only sees differences, so the offset is arbitrary, "
                                                    "but it moves PPO's reward scale and its KL balance. Set "
                                                    "--center_rewards_coefficient 0.01 (Eisenstein et al. 2023).",
                                                    s.back().step, warning_number(s.back().value)),
                             .evidence = {{"mean_reward", s.back().value}}};
    }});
  if (o.length_pairs)
    rules.push_back({MonitorRule::kFinish, [o](const MetricHistory& h, bool) -> std::optional<TrainingWarning> {
      auto xy = o.length_pairs();
      const double r = pearson(xy);
      if (!(r > 0.5)) return std::nullopt;
      const int64_t step = h.train.empty() ? 0 : h.train.back().step;
      return TrainingWarning{.id = "rm_length_bias", .step = step,
                             .message = fmt::format("After training, the reward difference between chosen and rejected "
                                                    "correlates with their length difference at {} over {} {} pairs: the "
                                                    "reward model has largely learned that longer is better, which PPO will "
                                                    "exploit by padding answers. Balance the lengths of chosen and rejected "
                                                    "in the data, or add pairs where the shorter answer wins.",
                                                    warning_number(r), xy.size(), o.length_set),
                             .evidence = {{"correlation", r}, {"pairs", xy.size()}}};
    }});
  return rules;
}

}  // namespace prefer::train
