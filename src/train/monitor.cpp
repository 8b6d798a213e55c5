#include "train/monitor.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <utility>

#include "util/error.h"

namespace prefer::train {

namespace {

struct Point {
  int64_t step;
  double value;
};

// The finite values of `key` in `rows`, in order.
std::vector<Point> series(const std::vector<MetricRow>& rows, const std::string& key) {
  std::vector<Point> out;
  for (const MetricRow& r : rows) {
    auto it = r.values.find(key);
    if (it != r.values.end() && std::isfinite(it->second)) out.push_back({r.step, it->second});
  }
  return out;
}

// Mean of the last min(k, n - 1) points: the recent level, never including the first point (which the
// trend checks compare against). Requires n >= 2.
std::pair<double, int> recent_mean(const std::vector<Point>& s, int k) {
  const int n = static_cast<int>(s.size());
  const int m = std::max(1, std::min(k, n - 1));
  double sum = 0;
  for (int i = n - m; i < n; ++i) sum += s[static_cast<size_t>(i)].value;
  return {sum / m, m};
}


int percent_of_run(int64_t step, const MonitorOptions& o) {
  return static_cast<int>(std::lround(100.0 * static_cast<double>(step) / static_cast<double>(o.total_steps)));
}

// The trend checks run once the run is far enough along, or at the end.
bool reached(const MetricHistory& h, const MonitorOptions& o, double fraction, bool final_check) {
  if (final_check) return true;
  if (h.train.empty()) return false;
  return static_cast<double>(h.train.back().step) >= fraction * static_cast<double>(o.total_steps);
}

// Whether `rows` logged rows stand on at least min_pairs_evidence pairs (always, when the count per row
// is unknown).
bool enough_pairs(const MonitorOptions& o, int rows) {
  return o.pairs_per_log <= 0 || o.pairs_per_log * rows >= o.min_pairs_evidence;
}

TrainingWarning make(std::string id, int64_t step, std::string message, OrderedJson evidence, bool fatal = false) {
  return {.id = std::move(id), .step = step, .message = std::move(message), .evidence = std::move(evidence),
          .fatal = fatal};
}

// NaN / Infinity are not JSON numbers: evidence records them as strings.
OrderedJson json_number(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "Infinity" : "-Infinity";
  return v;
}

}  // namespace

std::vector<MetricPoint> metric_series(const std::vector<MetricRow>& rows, const std::string& key) {
  std::vector<MetricPoint> out;
  for (const Point& p : series(rows, key)) out.push_back({p.step, p.value});
  return out;
}

double recent_mean(const std::vector<MetricPoint>& s, int k) {
  std::vector<Point> p;
  for (const MetricPoint& m : s) p.push_back({m.step, m.value});
  return recent_mean(p, k).first;
}

bool run_reached(const MetricHistory& h, int64_t total_steps, double fraction, bool final_check) {
  MonitorOptions o;
  o.total_steps = total_steps;
  return reached(h, o, fraction, final_check);
}

std::optional<TrainingWarning> check_nonfinite(const MetricRow& row) {
  for (const char* key : {"loss", "grad_norm"}) {
    auto it = row.values.find(key);
    if (it == row.values.end() || std::isfinite(it->second)) continue;
    const std::string what = std::isnan(it->second) ? "NaN" : "infinite";
    const bool loss = std::string(key) == "loss";
    return make(loss ? "nonfinite_loss" : "nonfinite_grad_norm", row.step,
                fmt::format("At step {} the {} is {}. Training stops here: every update from now on would spread "
                            "non-finite values into the weights. Common causes are a learning_rate that is too "
                            "high, an example whose completion is empty after truncation, or an overflow in "
                            "half precision. Resume from the last checkpoint with a lower learning_rate and check "
                            "the examples of this step.",
                            row.step, loss ? "training loss" : "gradient norm (grad_norm)", what),
                {{key, json_number(it->second)}}, /*fatal=*/true);
  }
  return std::nullopt;
}

TrainingWarning nonfinite_loss_warning(int64_t step, double loss, const std::vector<int64_t>& example_lines) {
  TrainingWarning w = *check_nonfinite(MetricRow{.step = step, .values = {{"loss", loss}}});
  w.evidence["example_lines"] = example_lines;
  if (!example_lines.empty())
    w.message += fmt::format(" The examples of that micro-batch are on lines {} of the training data.",
                             fmt::join(example_lines, ", "));
  return w;
}

std::optional<TrainingWarning> check_rejected_collapse(const MetricHistory& h, const MonitorOptions& o) {
  const std::vector<Point> s = series(h.train, "logps/rejected");
  if (s.empty()) return std::nullopt;
  const Point& last = s.back();
  if (!(last.value < o.rejected_logps_floor)) return std::nullopt;
  // Collapsing means falling: a model that starts that low (an untrained or very small one, long
  // responses) is not collapsing until the value drops clearly below where it started.
  if (s.size() < 2 || !(last.value < s.front().value - o.rejected_logps_min_drop)) return std::nullopt;
  const double length = o.mean_rejected_length;
  const double per_100 = length > 0 ? last.value / length * 100.0 : NAN;
  if (length > 0 && !(per_100 < o.rejected_logps_per_100_tokens)) return std::nullopt;
  OrderedJson ev = {{"logps/rejected", last.value}, {"first logps/rejected", s.front().value}};
  std::string size_note;
  if (length > 0) {
    ev["mean_rejected_length"] = length;
    ev["logps/rejected per 100 tokens"] = per_100;
    size_note = fmt::format("{} per 100 tokens with a mean rejected length of {} tokens", warning_number(per_100), warning_number(length));
  } else {
    size_note = "the mean rejected length was not given, so only the absolute value was tested";
  }
  return make("rejected_logps_collapse", last.step,
              fmt::format("At step {} the mean log-probability of the rejected responses is {} ({}; it was {} at the "
                          "first log). The policy is pushing rejected responses towards text it considers nearly "
                          "impossible, which in {} usually drags the chosen responses and general fluency down "
                          "with them. Consider a larger beta, a lower learning_rate or fewer epochs, or {}.",
                          last.step, warning_number(last.value), size_note, warning_number(s.front().value), o.method, o.chosen_term_hint),
              std::move(ev));
}

std::optional<TrainingWarning> check_margins(const MetricHistory& h, const MonitorOptions& o, bool final_check) {
  if (!reached(h, o, o.trend_check_fraction, final_check)) return std::nullopt;
  const std::vector<Point> s = series(h.train, "rewards/margins");
  if (s.size() < 2) return std::nullopt;
  const auto [recent, k] = recent_mean(s, o.smoothing_window);
  const double gain = recent - s.front().value;
  if (!(gain < o.margin_min_gain)) return std::nullopt;
  const int64_t step = s.back().step;
  return make("margins_not_improving", step,
              fmt::format("At step {} ({}% of the run) rewards/margins has gained only {} since the first log ({} "
                          "at step {}, {} as the mean of the last {} logs): the policy is barely separating chosen "
                          "from rejected responses. Check learning_rate and beta: full fine-tunes commonly use "
                          "5e-7 to 5e-6 and LoRA 5e-6 to 5e-5, and a smaller beta lets the margins grow faster. "
                          "Also check that chosen and rejected responses really differ in the data.",
                          step, percent_of_run(step, o), warning_number(gain), warning_number(s.front().value), s.front().step,
                          warning_number(recent), k),
              {{"first rewards/margins", s.front().value}, {"recent rewards/margins", recent}, {"gain", gain},
               {"threshold", o.margin_min_gain}});
}

std::optional<TrainingWarning> check_accuracy_saturated(const MetricHistory& h, const MonitorOptions& o,
                                                        bool final_check) {
  const std::vector<Point> s = series(h.train, "rewards/accuracies");
  const double early_end = o.early_fraction * static_cast<double>(o.total_steps);
  // An accuracy of 1.0 over a handful of pairs says nothing: each claim needs enough pairs behind it.
  if (!enough_pairs(o, 1)) return std::nullopt;
  for (const Point& p : s) {
    if (static_cast<double>(p.step) > early_end) break;
    if (p.value > o.early_accuracy)
      return make("rewards_accuracy_saturated", p.step,
                  fmt::format("At step {}, within the first {}% of the run, rewards/accuracies is already {}: the "
                              "policy separates almost every training pair. Pairs this easy (for example chosen "
                              "and rejected that differ in length or format) give little signal, and further "
                              "training mostly pushes rejected log-probabilities down, i.e. overfits. Consider "
                              "raising beta or stopping earlier, and watch eval_rewards/accuracies on held-out pairs.",
                              p.step, warning_number(100 * o.early_fraction), warning_number(p.value)),
                  {{"rewards/accuracies", p.value}, {"threshold", o.early_accuracy}});
  }
  if (final_check && !s.empty() && s.back().value > o.final_accuracy)
    return make("rewards_accuracy_saturated", s.back().step,
                fmt::format("At the end of training (step {}) rewards/accuracies is {}: the policy fits the "
                            "training pairs almost perfectly, a sign of overfitting. Compare with "
                            "eval_rewards/accuracies; consider raising beta or training for fewer steps.",
                            s.back().step, warning_number(s.back().value)),
                {{"rewards/accuracies", s.back().value}, {"threshold", o.final_accuracy}});
  return std::nullopt;
}

std::optional<TrainingWarning> check_likelihood_displacement(const MetricHistory& h, const MonitorOptions& o,
                                                             bool final_check) {
  if (!reached(h, o, o.trend_check_fraction, final_check)) return std::nullopt;
  const std::vector<Point> chosen = series(h.train, "rewards/chosen");
  const std::vector<Point> margins = series(h.train, "rewards/margins");
  if (chosen.size() < 2 || margins.size() < 2) return std::nullopt;
  const auto [c1, k] = recent_mean(chosen, o.smoothing_window);
  const double m1 = recent_mean(margins, o.smoothing_window).first;
  const double c0 = chosen.front().value, m0 = margins.front().value;
  if (!(c1 - c0 < -o.chosen_min_drop && m1 - m0 > o.margin_min_gain)) return std::nullopt;
  const int64_t step = chosen.back().step;
  OrderedJson ev = {{"first rewards/chosen", c0}, {"recent rewards/chosen", c1}, {"first rewards/margins", m0},
                    {"recent rewards/margins", m1}};
  const std::vector<Point> logps = series(h.train, "logps/chosen");
  if (logps.size() >= 2) {
    ev["first logps/chosen"] = logps.front().value;
    ev["recent logps/chosen"] = recent_mean(logps, o.smoothing_window).first;
  }
  return make("likelihood_displacement", step,
              fmt::format("At step {} rewards/chosen has fallen from {} to {} (mean of the last {} logs) while "
                          "rewards/margins grew from {} to {}: the margin grows because the rejected responses "
                          "fall faster, and the chosen responses are becoming less likely than they were at the start "
                          "(likelihood displacement). The policy may drift towards responses that are neither. "
                          "Consider: {}; or lower learning_rate or raise beta.",
                          step, warning_number(c0), warning_number(c1), k, warning_number(m0), warning_number(m1), o.chosen_term_hint),
              std::move(ev));
}

std::optional<TrainingWarning> check_accuracy_chance(const MetricHistory& h, const MonitorOptions& o,
                                                     bool final_check) {
  if (!reached(h, o, o.chance_check_fraction, final_check)) return std::nullopt;
  const std::vector<Point> s = series(h.train, "rewards/accuracies");
  if (s.size() < 2) return std::nullopt;
  const auto [recent, k] = recent_mean(s, o.smoothing_window);
  if (!enough_pairs(o, k)) return std::nullopt;
  if (!(std::abs(recent - 0.5) <= o.chance_band)) return std::nullopt;
  const int64_t step = s.back().step;
  return make("accuracy_near_chance", step,
              fmt::format("At step {} ({}% of the run) rewards/accuracies is {} (mean of the last {} logs): the "
                          "policy tells chosen from rejected no better than a coin. Check that chosen and rejected "
                          "are not swapped or randomly assigned for part of the data, and that the completion "
                          "masks cover the responses (prefer data validate shows both); a learning_rate that is "
                          "too small gives the same picture.",
                          step, percent_of_run(step, o), warning_number(recent), k),
              {{"recent rewards/accuracies", recent},
               {"band", OrderedJson::array({0.5 - o.chance_band, 0.5 + o.chance_band})}});
}

std::optional<TrainingWarning> check_eval_divergence(const MetricHistory& h, const MonitorOptions& o) {
  const std::vector<Point> ev = series(h.eval, "eval_rewards/margins");
  const std::vector<Point> tr = series(h.train, "rewards/margins");
  if (ev.size() < 3 || tr.empty()) return std::nullopt;
  const Point& e0 = ev[ev.size() / 2];  // the second half of the evaluations so far
  const Point& e1 = ev.back();
  // The train margin at (or just before) each of those two steps.
  auto train_at = [&](int64_t step) {
    const Point* best = &tr.front();
    for (const Point& p : tr)
      if (p.step <= step) best = &p;
    return *best;
  };
  const Point t0 = train_at(e0.step), t1 = train_at(e1.step);
  if (!(e0.value - e1.value > o.eval_divergence && t1.value - t0.value > o.eval_divergence)) return std::nullopt;
  return make("eval_margins_diverging", e1.step,
              fmt::format("Between step {} and step {} eval_rewards/margins fell from {} to {} while the training "
                          "margins rose from {} to {}: what the policy learns on the training pairs no longer "
                          "carries over to held-out pairs (overfitting, or eval data from another distribution than "
                          "the training data). Consider keeping the checkpoint with the best eval margins, raising "
                          "beta, or training fewer epochs.",
                          e0.step, e1.step, warning_number(e0.value), warning_number(e1.value), warning_number(t0.value), warning_number(t1.value)),
              {{"eval_rewards/margins", OrderedJson::array({e0.value, e1.value})},
               {"rewards/margins", OrderedJson::array({t0.value, t1.value})},
               {"steps", OrderedJson::array({e0.step, e1.step})}});
}

std::optional<TrainingWarning> check_eval_accuracy(const MetricHistory& h, const MonitorOptions& o) {
  const std::vector<Point> s = series(h.eval, "eval_rewards/accuracies");
  if (s.empty()) return std::nullopt;
  const Point& p = s.back();
  OrderedJson ev = {{"eval_rewards/accuracies", p.value},
                    {"expected range", OrderedJson::array({o.eval_accuracy_low, o.eval_accuracy_high})}};
  if (p.value < o.eval_accuracy_low)
    return make("eval_accuracy_out_of_range", p.step,
                fmt::format("After training (step {}) eval_rewards/accuracies is {}: on held-out pairs the policy "
                            "prefers the chosen response only {}% of the time, so it learned little that "
                            "generalises. Consider more data or steps or a higher learning_rate, and check that the "
                            "eval pairs come from the same distribution and are labelled the same way as the "
                            "training pairs.",
                            p.step, warning_number(p.value), warning_number(100 * p.value)),
                std::move(ev));
  if (p.value > o.eval_accuracy_high)
    return make("eval_accuracy_out_of_range", p.step,
                fmt::format("After training (step {}) eval_rewards/accuracies is {}. Held-out pairs this easy "
                            "suggest that the eval set overlaps the training set, or that chosen and rejected differ "
                            "in something trivial (length, formatting) that the policy learned instead of the "
                            "preference. Check for duplicates between train and eval and compare response lengths; "
                            "judge generations (prefer eval) before trusting the model.",
                            p.step, warning_number(p.value)),
                std::move(ev));
  return std::nullopt;
}

std::vector<MonitorRule> dpo_monitor_rules(const MonitorOptions& o) {
  using R = MonitorRule;
  auto rule = [&](int when, auto fn) { return MonitorRule{when, [o, fn](const MetricHistory& h, bool f) { return fn(h, o, f); }}; };
  return {
      rule(R::kTrain, [](const MetricHistory& h, const MonitorOptions& o, bool) { return check_rejected_collapse(h, o); }),
      rule(R::kTrain | R::kFinish, [](const MetricHistory& h, const MonitorOptions& o, bool f) { return check_margins(h, o, f); }),
      rule(R::kTrain | R::kFinish, [](const MetricHistory& h, const MonitorOptions& o, bool f) { return check_accuracy_saturated(h, o, f); }),
      rule(R::kTrain | R::kFinish, [](const MetricHistory& h, const MonitorOptions& o, bool f) { return check_likelihood_displacement(h, o, f); }),
      rule(R::kTrain | R::kFinish, [](const MetricHistory& h, const MonitorOptions& o, bool f) { return check_accuracy_chance(h, o, f); }),
      rule(R::kEval | R::kFinish, [](const MetricHistory& h, const MonitorOptions& o, bool) { return check_eval_divergence(h, o); }),
      rule(R::kFinish, [](const MetricHistory& h, const MonitorOptions& o, bool) { return check_eval_accuracy(h, o); }),
  };
}

TrainingMonitor::TrainingMonitor(MonitorOptions options) : TrainingMonitor(options.total_steps, dpo_monitor_rules(options)) {
  options_ = options;
}

TrainingMonitor::TrainingMonitor(int64_t total_steps, std::vector<MonitorRule> rules) : rules_(std::move(rules)) {
  options_.total_steps = total_steps;
  if (total_steps <= 0)
    throw Error("the monitor needs the run's number of optimizer steps (> 0)", {.field = "total_steps"});
}

void TrainingMonitor::keep(std::optional<TrainingWarning> w, std::vector<TrainingWarning>& out) {
  if (w && fired_.insert(w->id).second) out.push_back(std::move(*w));
}

std::vector<TrainingWarning> TrainingMonitor::observe(const MetricRow& row) {
  std::vector<TrainingWarning> out;
  const bool eval = row.is_eval();
  (eval ? history_.eval : history_.train).push_back(row);
  if (!eval) keep(check_nonfinite(row), out);
  for (const MonitorRule& r : rules_)
    if (r.when & (eval ? MonitorRule::kEval : MonitorRule::kTrain)) keep(r.check(history_, false), out);
  return out;
}

std::vector<TrainingWarning> TrainingMonitor::finish() {
  std::vector<TrainingWarning> out;
  for (const MonitorRule& r : rules_)
    if (r.when & MonitorRule::kFinish) keep(r.check(history_, true), out);
  return out;
}

void TrainingMonitor::restore(const std::vector<MetricRow>& rows, const std::vector<TrainingWarning>& already_fired) {
  history_ = {};
  for (const MetricRow& r : rows) (r.is_eval() ? history_.eval : history_.train).push_back(r);
  for (const TrainingWarning& w : already_fired) fired_.insert(w.id);
}

}  // namespace prefer::train
