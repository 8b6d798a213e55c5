#include "train/rl_monitor.h"

#include <fmt/format.h>

#include <cmath>

namespace prefer::train {

namespace {

using Check = std::function<std::optional<TrainingWarning>(const MetricHistory&, bool)>;

TrainingWarning warning(std::string id, int64_t step, std::string message, OrderedJson evidence) {
  return TrainingWarning{.id = std::move(id), .step = step, .message = std::move(message), .evidence = std::move(evidence)};
}
}  // namespace

std::vector<MonitorRule> rl_monitor_rules(const RlCheckOptions& o) {
  std::vector<MonitorRule> rules;
  const int k = o.smoothing_window;
  auto add = [&rules](Check c) { rules.push_back({MonitorRule::kTrain | MonitorRule::kFinish, std::move(c)}); };

  add([o, k](const MetricHistory& h, bool) -> std::optional<TrainingWarning> {
    auto score = metric_series(h.train, o.score_key);
    auto kl = metric_series(h.train, o.kl_key);
    if (score.size() < 2 || kl.empty()) return std::nullopt;
    const double rise = recent_mean(score, k) - score.front().value, now_kl = kl.back().value;
    if (!(rise > o.score_rise && now_kl > o.kl_bound)) return std::nullopt;
    return warning("reward_hacking", kl.back().step,
                   fmt::format("At step {} the reward model's score has risen by {} since the first log while the policy has moved {} "
                               "{} away from the reference, past the bound of {}. A score that keeps rising this far from the "
                               "starting model is often the policy exploiting the reward model, not a better answer: read "
                               "completions.jsonl. {}, or stop at an earlier checkpoint.",
                               kl.back().step, warning_number(rise), warning_number(now_kl), o.kl_unit, warning_number(o.kl_bound), o.kl_advice),
                   {{o.score_key + " rise", rise}, {o.kl_key, now_kl}});
  });
  add([o, k](const MetricHistory& h, bool) -> std::optional<TrainingWarning> {
    auto score = metric_series(h.train, o.score_key);
    auto second = metric_series(h.train, "objective/second_scores");
    if (score.size() < 2 || second.size() < 2) return std::nullopt;
    const double rise = recent_mean(score, k) - score.front().value, change = recent_mean(second, k) - second.front().value;
    if (!(rise > o.score_rise && change < -o.second_drop)) return std::nullopt;
    return warning("reward_hacking_second_judge", second.back().step,
                   fmt::format("At step {} the training reward model's score has risen by {} since the first log while the second "
                               "judge's score of the same responses fell by {}: the policy is learning what the reward model "
                               "rewards, not what the second judge prefers. Read completions.jsonl, raise kl_coef, or stop at an "
                               "earlier checkpoint; the reward model may need more or more varied pairs.",
                               second.back().step, warning_number(rise), warning_number(-change)),
                   {{o.score_key + " rise", rise}, {"objective/second_scores change", change}});
  });
  add([o](const MetricHistory& h, bool) -> std::optional<TrainingWarning> {
    auto kl = metric_series(h.train, o.kl_key);
    if (kl.empty() || !(kl.back().value > o.kl_blowup)) return std::nullopt;
    return warning("kl_blowup", kl.back().step,
                   fmt::format("At step {} the KL to the reference is {} {} (above {}): the policy is running away from the "
                               "model it started as. {}",
                               kl.back().step, warning_number(kl.back().value), o.kl_unit, warning_number(o.kl_blowup),
                               o.adaptive_kl ? "The adaptive controller is on: lower its target or its horizon so it reacts faster, or "
                                               "lower learning_rate."
                                             : o.kl_advice + ", or lower learning_rate."),
                   {{o.kl_key, kl.back().value}});
  });
  if (o.k1)
    add([o](const MetricHistory& h, bool) -> std::optional<TrainingWarning> {
      auto kl = metric_series(h.train, o.kl_key);
      if (kl.empty() || !(kl.back().value < -o.negative_kl)) return std::nullopt;
      return warning("negative_kl", kl.back().step,
                     fmt::format("At step {} the estimated KL is {}, below zero. A true KL divergence never is: the k1 estimator "
                                 "(log pi - log pi_ref per sampled token) is only right on average, and a negative mean says the "
                                 "policy samples tokens the reference prefers, often through a temperature or sampling mismatch, and "
                                 "that the KL penalty is now paying the policy to move. Use --kl_estimator k3, which is never "
                                 "negative.",
                                 kl.back().step, warning_number(kl.back().value)),
                     {{o.kl_key, kl.back().value}});
    });
  add([o, k](const MetricHistory& h, bool) -> std::optional<TrainingWarning> {
    auto len = metric_series(h.train, "completions/mean_length");
    if (len.size() < 2) return std::nullopt;
    const double now = recent_mean(len, k), first = len.front().value;
    if (!(now < o.length_collapse * first)) return std::nullopt;
    return warning("response_length_collapse", len.back().step,
                   fmt::format("At step {} responses are {} tokens long on average, against {} at the first log: the policy has "
                               "learned that short answers score better or avoid the KL penalty. Check the reward model for a "
                               "length bias, read completions.jsonl, and raise kl_coef.",
                               len.back().step, warning_number(now), warning_number(first)),
                   {{"completions/mean_length", now}, {"first completions/mean_length", first}});
  });
  add([o, k](const MetricHistory& h, bool) -> std::optional<TrainingWarning> {
    auto c = metric_series(h.train, "completions/clipped_ratio");
    if (c.size() < 2) return std::nullopt;
    const double now = recent_mean(c, k), first = c.front().value;
    if (!(now > 0.9 && first < 0.5)) return std::nullopt;
    return warning("response_length_explosion", c.back().step,
                   fmt::format("At step {} {}% of responses run to response_length without ending (at the first log: {}%): the "
                               "policy is getting longer, the classic reward-model length bias. Set missing_eos_penalty, check the "
                               "reward model's preference for length, raise kl_coef.",
                               c.back().step, warning_number(100 * now), warning_number(100 * first)),
                   {{"completions/clipped_ratio", now}, {"first completions/clipped_ratio", first}});
  });
  add([o, k](const MetricHistory& h, bool) -> std::optional<TrainingWarning> {
    auto d = metric_series(h.train, "completions/distinct_2");
    auto dup = metric_series(h.train, "completions/duplicate_ratio");
    if (d.size() >= 2) {
      const double now = recent_mean(d, k), first = d.front().value;
      if (now < o.distinct_floor * first)
        return warning("mode_collapse", d.back().step,
                       fmt::format("At step {} only {}% of the word pairs (token bigrams) in a batch's responses are distinct, against "
                                   "{}% at the first log: the responses are collapsing onto a few phrasings. Raise kl_coef or the "
                                   "sampling temperature, or lower learning_rate.",
                                   d.back().step, warning_number(100 * now), warning_number(100 * first)),
                       {{"completions/distinct_2", now}, {"first completions/distinct_2", first}});
    }
    if (dup.size() >= 2 && recent_mean(dup, k) > o.duplicate_ratio)
      return warning("mode_collapse", dup.back().step,
                     fmt::format("At step {} {}% of the responses are word for word the same as a response to another prompt: the "
                                 "policy answers everything alike. Raise kl_coef or lower learning_rate, and read completions.jsonl.",
                                 dup.back().step, warning_number(100 * recent_mean(dup, k))),
                     {{"completions/duplicate_ratio", recent_mean(dup, k)}});
    return std::nullopt;
  });
  add([o, k](const MetricHistory& h, bool) -> std::optional<TrainingWarning> {
    auto v = metric_series(h.train, "loss/value_avg");
    if (v.size() < 5) return std::nullopt;  // a fresh value head's first losses swing widely
    const double first = (v[0].value + v[1].value + v[2].value) / 3, now = recent_mean(v, k);
    if (!(now > 1.0 && now > o.value_growth * std::max(first, 1e-3))) return std::nullopt;
    return warning("value_loss_diverging", v.back().step,
                   fmt::format("At step {} the value loss is {}, {}x its first values ({}): the value model is not keeping up with "
                               "the returns, so the advantages are noise. Lower learning_rate, lower cliprange_value, or whiten "
                               "the rewards (--whiten_rewards).",
                               v.back().step, warning_number(now), warning_number(now / std::max(first, 1e-3)), warning_number(first)),
                   {{"loss/value_avg", now}, {"first loss/value_avg (mean of 3)", first}});
  });
  add([o, k](const MetricHistory& h, bool) -> std::optional<TrainingWarning> {
    auto c = metric_series(h.train, "policy/clipfrac_avg");
    if (c.size() < 3) return std::nullopt;
    const double now = recent_mean(c, k);
    if (!(now > o.clipfrac_high)) return std::nullopt;
    return warning("clipfrac_high", c.back().step,
                   fmt::format("At step {} the policy ratio is clipped on {}% of tokens (above {}%): each update moves the policy "
                               "further than PPO's trust region allows, so most of the gradient is thrown away. Lower "
                               "learning_rate, or use fewer num_ppo_epochs.",
                               c.back().step, warning_number(100 * now), warning_number(100 * o.clipfrac_high)),
                   {{"policy/clipfrac_avg", now}});
  });
  add([o](const MetricHistory& h, bool final_check) -> std::optional<TrainingWarning> {
    if (!run_reached(h, o.total_steps, 0.2, final_check)) return std::nullopt;
    auto e = metric_series(h.train, "val/num_eos_tokens");
    bool ended = false;
    if (!e.empty()) {
      for (const auto& p : e) ended = ended || p.value > 0;
    } else {  // GRPO, RLOO: every completion clipped at the length limit
      e = metric_series(h.train, "completions/clipped_ratio");
      for (const auto& p : e) ended = ended || p.value < 1;
    }
    if (e.size() < 2 || ended) return std::nullopt;
    return warning("no_eos", e.back().step,
                   fmt::format("Up to step {} no sampled completion has ended with the EOS token: every one runs to {} and is "
                               "cut, so the reward scores unfinished text. Raise {}, check the tokenizer's EOS, or {}.",
                               e.back().step, o.length_option, o.length_option, o.eos_advice),
                   {{"completions that ended", 0}});
  });
  add([o, k](const MetricHistory& h, bool final_check) -> std::optional<TrainingWarning> {
    auto z = metric_series(h.train, "frac_reward_zero_std");
    if (z.size() < 3 && !(final_check && z.size() >= 2)) return std::nullopt;
    const double now = recent_mean(z, k);
    if (!(now > o.zero_std_high)) return std::nullopt;
    return warning("reward_signal_missing", z.back().step,
                   fmt::format("At step {} {}% of the prompt groups had every completion scored the same: those groups teach "
                               "nothing (their advantages are all 0). The prompts are too easy or too hard for this model, or the "
                               "reward is broken (always the same number). Check the reward on a few completions.jsonl rows, use "
                               "harder or easier prompts, raise num_generations or the temperature.",
                               z.back().step, warning_number(100 * now)),
                   {{"frac_reward_zero_std", now}});
  });
  add([o, k](const MetricHistory& h, bool) -> std::optional<TrainingWarning> {
    auto d = metric_series(h.train, "completions/group_duplicate_ratio");
    if (d.size() < 2) return std::nullopt;
    const double now = recent_mean(d, k);
    if (!(now > o.duplicate_ratio)) return std::nullopt;
    return warning("group_collapse", d.back().step,
                   fmt::format("At step {} {}% of the completions are word for word the same as another completion of the same "
                               "prompt: the policy has stopped exploring, and identical completions give the group no signal. Raise "
                               "the temperature, lower learning_rate, or set beta > 0 to hold the policy near the reference.",
                               d.back().step, warning_number(100 * now)),
                   {{"completions/group_duplicate_ratio", now}});
  });
  return rules;
}

}  // namespace prefer::train
