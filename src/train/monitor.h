// The training monitor: each command installs its rules (MonitorRule); the DPO family's are here: pure checks over the logged metric history (TRL's metric
// names) that return warnings in plain words, each naming the step and the numbers behind it. The
// TrainingMonitor object only keeps the history and which warnings have fired, so each fires once per run.
//
// Checks (thresholds in MonitorOptions; docs/training.md explains each):
//   nonfinite_loss            loss is NaN or infinite (fatal)
//   nonfinite_grad_norm       grad_norm is NaN or infinite (fatal: the step would corrupt the weights)
//   rejected_logps_collapse   logps/rejected < -100 and below -200 per 100 tokens of rejected response
//   margins_not_improving     rewards/margins gained < 0.1 since the first log, at >= 20% of the steps
//                             or at the end
//   rewards_accuracy_saturated  rewards/accuracies > 0.98 within the first 10% of steps, or > 0.99 at the end
//   likelihood_displacement   rewards/chosen fell by > 0.1 while rewards/margins grew by > 0.1
//                             (at >= 20% of the steps or at the end)
//   accuracy_near_chance      rewards/accuracies within 0.5 +- 0.05 at >= 25% of the steps or at the end
//   eval_margins_diverging    over the second half of the evaluations so far, eval_rewards/margins fell
//                             by > 0.1 while the train margins rose by > 0.1
//   eval_accuracy_out_of_range  the final eval_rewards/accuracies outside [0.70, 0.90] (after training)
// "Since the first log" compares the first logged value with the mean of the last 3 logged values (fewer
// when there are fewer), which smooths the noise of one logging window.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "train/metrics_log.h"
#include "train/training_warning.h"
#include "util/json.h"

namespace prefer::train {

struct MonitorOptions {
  int64_t total_steps = 0;            // optimizer steps of the run (> 0)
  double mean_rejected_length = 0;    // mean rejected-response tokens; 0 = unknown (absolute test only)
  // Pairs behind one logged training row (batch x accumulation x logging_steps); 0 = unknown. The
  // accuracy checks stay silent until the rows they judge stand on min_pairs_evidence pairs.
  double pairs_per_log = 0;
  double min_pairs_evidence = 32;
  // The command, and what strengthens its hold on the chosen responses, as the advice in messages.
  std::string method = "DPO";
  std::string chosen_term_hint = "add an SFT term on the chosen responses (loss_type: [sigmoid, sft], or rpo_alpha: 1.0)";

  double rejected_logps_floor = -100;
  double rejected_logps_per_100_tokens = -200;
  double rejected_logps_min_drop = 10;  // and at least this far below the first logged value
  double margin_min_gain = 0.1;
  double trend_check_fraction = 0.2;     // margins / displacement checks from this share of the steps
  double early_fraction = 0.1;
  double early_accuracy = 0.98;
  double final_accuracy = 0.99;
  double chosen_min_drop = 0.1;
  double chance_check_fraction = 0.25;
  double chance_band = 0.05;
  double eval_divergence = 0.1;
  double eval_accuracy_low = 0.70;
  double eval_accuracy_high = 0.90;
  int smoothing_window = 3;
};

// What the checks see: the train rows and the eval rows logged so far, in step order.
struct MetricHistory {
  std::vector<MetricRow> train;
  std::vector<MetricRow> eval;
};

// ---- helpers for the rules of every command ---------------------------------------------------------
struct MetricPoint {
  int64_t step;
  double value;
};
// The finite values of `key` in `rows`, in order.
std::vector<MetricPoint> metric_series(const std::vector<MetricRow>& rows, const std::string& key);
// Mean of the last min(k, n - 1) points (never the first, which trends compare against); n >= 2.
double recent_mean(const std::vector<MetricPoint>& s, int k);
// Whether the run is `fraction` of the way through (always at the final check).
bool run_reached(const MetricHistory& h, int64_t total_steps, double fraction, bool final_check);

// ---- the checks: pure functions, nullopt when there is nothing to say -----------------------------------
// `final_check` is true at the end of training (the trend checks then run whatever the step).
std::optional<TrainingWarning> check_nonfinite(const MetricRow& row);  // nonfinite_loss / nonfinite_grad_norm
std::optional<TrainingWarning> check_rejected_collapse(const MetricHistory& h, const MonitorOptions& o);
std::optional<TrainingWarning> check_margins(const MetricHistory& h, const MonitorOptions& o, bool final_check);
std::optional<TrainingWarning> check_accuracy_saturated(const MetricHistory& h, const MonitorOptions& o,
                                                        bool final_check);
std::optional<TrainingWarning> check_likelihood_displacement(const MetricHistory& h, const MonitorOptions& o,
                                                             bool final_check);
std::optional<TrainingWarning> check_accuracy_chance(const MetricHistory& h, const MonitorOptions& o,
                                                     bool final_check);
std::optional<TrainingWarning> check_eval_divergence(const MetricHistory& h, const MonitorOptions& o);
// After training, on the last evaluation row (eval_rewards/accuracies).
std::optional<TrainingWarning> check_eval_accuracy(const MetricHistory& h, const MonitorOptions& o);

// The trainer's own per-step test, before anything is logged: a non-finite loss at `step`, with the source
// lines of the micro-batch's examples as evidence ("example_lines"). Fatal.
TrainingWarning nonfinite_loss_warning(int64_t step, double loss, const std::vector<int64_t>& example_lines);

// One check a command installs: when it runs and what it looks at. A rule that returns a warning fires
// once per run (its id is remembered, across resumes too).
struct MonitorRule {
  enum When : int { kTrain = 1, kEval = 2, kFinish = 4 };
  int when = kTrain;
  // `final_check` is true when called at the end of training.
  std::function<std::optional<TrainingWarning>(const MetricHistory&, bool final_check)> check;
};

// The DPO family's rules (the checks above) with these options.
std::vector<MonitorRule> dpo_monitor_rules(const MonitorOptions& options);

class TrainingMonitor {
 public:
  // DPO's rules. Throws prefer::Error when total_steps <= 0.
  explicit TrainingMonitor(MonitorOptions options);
  // Any command's rules; the non-finite loss/grad-norm check always runs on train rows.
  TrainingMonitor(int64_t total_steps, std::vector<MonitorRule> rules);

  // Feeds one metrics.jsonl row (train or eval, told apart by "eval_" keys) and returns the warnings
  // that fire now; a fatal one means the trainer must stop.
  std::vector<TrainingWarning> observe(const MetricRow& row);
  std::vector<TrainingWarning> observe(const Json& row) { return observe(metric_row_from_json(row)); }
  // At the end of training: the trend checks whatever the step, and the final eval accuracy.
  std::vector<TrainingWarning> finish();

  // Resume: the history kept in metrics.jsonl and the warnings kept in warnings.jsonl (already written:
  // they do not fire again).
  void restore(const std::vector<MetricRow>& rows, const std::vector<TrainingWarning>& already_fired);
  // Marks ids as fired without a warning (e.g. pre-flight warnings written by the caller).
  void mark_fired(const std::string& id) { fired_.insert(id); }
  bool fired(const std::string& id) const { return fired_.count(id) > 0; }
  const MetricHistory& history() const { return history_; }
  const MonitorOptions& options() const { return options_; }

 private:
  void keep(std::optional<TrainingWarning> w, std::vector<TrainingWarning>& out);

  MonitorOptions options_;
  std::vector<MonitorRule> rules_;
  MetricHistory history_;
  std::set<std::string> fired_;
};

}  // namespace prefer::train
