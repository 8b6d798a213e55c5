#include "train/preference_checks.h"

#include <fmt/format.h>

#include <cmath>

namespace prefer::train {

namespace {
double round2(double v) { return std::round(v * 100.0) / 100.0; }
}  // namespace

std::optional<TrainingWarning> kto_class_balance(int64_t desirable, int64_t undesirable, double wd, double wu) {
  // TRL counts at least one of each, so an absent class still gets a suggestion.
  const double d = static_cast<double>(std::max<int64_t>(desirable, 1)), u = static_cast<double>(std::max<int64_t>(undesirable, 1));
  const double ratio = (wd * d) / (wu * u);
  if (ratio >= 1.0 && ratio <= 4.0 / 3.0) return std::nullopt;
  // Either weight alone moves the ratio into [1, 4/3]: λ_D in [u·λ_U/d, 4/3·u·λ_U/d], or
  // λ_U in [d·λ_D/(4/3·u), d·λ_D/u].
  const double d_lo = round2(u * wu / d), d_hi = round2(4.0 / 3.0 * u * wu / d);
  const double u_lo = round2(d * wd / (4.0 / 3.0 * u)), u_hi = round2(d * wd / u);
  return TrainingWarning{
      .id = "kto_class_imbalance",
      .step = 0,
      .message = fmt::format(
          "The training data hold {} desirable and {} undesirable examples; with desirable_weight {} and undesirable_weight {} "
          "the weighted ratio desirable : undesirable is {}, outside [1, 4/3], where the KTO paper (eq. 8) puts it. {} Set "
          "EITHER desirable_weight in [{}, {}] OR undesirable_weight in [{}, {}] (not both).",
          desirable, undesirable, warning_number(wd), warning_number(wu), warning_number(ratio),
          ratio < 1.0 ? "The loss then leans on the undesirable examples: the policy learns mostly what to avoid."
                      : "The loss then leans on the desirable examples and barely learns what to avoid.",
          warning_number(d_lo), warning_number(d_hi), warning_number(u_lo), warning_number(u_hi)),
      .evidence = {{"num_desirable", desirable},
                   {"num_undesirable", undesirable},
                   {"weighted_ratio", ratio},
                   {"desirable_weight_range", OrderedJson::array({d_lo, d_hi})},
                   {"undesirable_weight_range", OrderedJson::array({u_lo, u_hi})}}};
}

std::optional<TrainingWarning> simpo_nll_check(const objectives::CpoConfig& c) {
  if (c.loss_type != objectives::CpoLossType::kSimpo || c.cpo_alpha == 0.0) return std::nullopt;
  return TrainingWarning{
      .id = "simpo_with_nll_term",
      .step = 0,
      .message = fmt::format("loss_type is simpo with cpo_alpha {}: that is CPO-SimPO (SimPO plus {} x the NLL of the chosen "
                             "responses), not the SimPO of the paper. For plain SimPO set cpo_alpha 0 (or use loss_type alphapo, "
                             "which drops the NLL term). The paper's values are beta 2.5 and simpo_gamma 1.375 (gamma/beta 0.55), "
                             "far from DPO's.",
                             warning_number(c.cpo_alpha), warning_number(c.cpo_alpha)),
      .evidence = {{"loss_type", "simpo"}, {"cpo_alpha", c.cpo_alpha}}};
}

std::optional<TrainingWarning> template_format_check(const std::string& method, bool has_chat_template, bool conversational) {
  if (!has_chat_template || conversational) return std::nullopt;
  return TrainingWarning{
      .id = "chosen_not_in_template_format",
      .step = 0,
      .message = fmt::format("{} trains on the chosen responses themselves (its NLL term), and this data is plain text while the model "
                             "has a chat template: the model learns to answer outside the template's assistant turns, yet a chat "
                             "client will wrap every prompt in them. Write the data as conversations (prompt, chosen and rejected "
                             "as lists of messages) so they are rendered as the template's turns; if the prompts already hold the "
                             "rendered template, this warning does not apply.",
                             method),
      .evidence = {{"has_chat_template", true}, {"conversational", false}}};
}

MonitorRule chosen_nll_rising_rule(int64_t total_steps) {
  return {MonitorRule::kTrain | MonitorRule::kFinish, [total_steps](const MetricHistory& h, bool final_check) -> std::optional<TrainingWarning> {
            if (!run_reached(h, total_steps, 0.2, final_check)) return std::nullopt;
            auto s = metric_series(h.train, "nll_loss");
            if (s.size() < 2) return std::nullopt;
            const double first = s.front().value, recent = recent_mean(s, 3);
            if (!(recent > first + 0.1 * std::abs(first))) return std::nullopt;
            return TrainingWarning{
                .id = "chosen_nll_rising",
                .step = s.back().step,
                .message = fmt::format("At step {} nll_loss is {} (mean of the last logs) against {} at the first log: the chosen "
                                       "responses are becoming less likely, so the preference term is winning by pushing "
                                       "everything down rather than by preferring the chosen responses. Lower learning_rate, or "
                                       "give the NLL term more weight (cpo_alpha for CPO; a smaller beta for ORPO).",
                                       s.back().step, warning_number(recent), warning_number(first)),
                .evidence = {{"first nll_loss", first}, {"recent nll_loss", recent}}};
          }};
}

MonitorOptions average_logp_thresholds(MonitorOptions o, double beta) {
  o.margin_min_gain = 0.05 * beta;
  o.chosen_min_drop = 0.05 * beta;
  o.eval_divergence = 0.05 * beta;
  o.rejected_logps_floor = -5;
  o.rejected_logps_min_drop = 1;
  o.mean_rejected_length = 0;  // the values are already per token
  return o;
}

}  // namespace prefer::train
