// The KTO / ORPO / CPO checks: each warning provoked on hand-made inputs and silent on healthy ones;
// KTO's class-balance ranges against the formula worked by hand.
#include "train/preference_checks.h"

#include <gtest/gtest.h>

namespace prefer::train {
namespace {

MetricRow row(int64_t step, std::map<std::string, double> v) { return {step, std::move(v)}; }

std::vector<std::string> fired(TrainingMonitor& m, const std::vector<MetricRow>& rows) {
  std::vector<std::string> ids;
  for (const auto& r : rows)
    for (const auto& w : m.observe(r)) ids.push_back(w.id);
  for (const auto& w : m.finish()) ids.push_back(w.id);
  return ids;
}

TEST(PreferenceChecks, KtoClassBalance) {
  EXPECT_FALSE(kto_class_balance(100, 100, 1, 1));     // ratio 1
  EXPECT_FALSE(kto_class_balance(120, 100, 1, 1));     // 1.2, inside [1, 4/3]
  // 300 desirable, 100 undesirable: ratio 3. λ_D in [100/300, 4/3·100/300] = [0.33, 0.44] or
  // λ_U in [300/(4/3·100), 300/100] = [2.25, 3].
  auto w = kto_class_balance(300, 100, 1, 1);
  ASSERT_TRUE(w);
  EXPECT_EQ(w->id, "kto_class_imbalance");
  EXPECT_DOUBLE_EQ(w->evidence["weighted_ratio"].get<double>(), 3.0);
  EXPECT_EQ(w->evidence["desirable_weight_range"], OrderedJson::array({0.33, 0.44}));
  EXPECT_EQ(w->evidence["undesirable_weight_range"], OrderedJson::array({2.25, 3.0}));
  EXPECT_NE(w->message.find("EITHER desirable_weight in [0.33, 0.44] OR undesirable_weight in [2.25, 3]"), std::string::npos) << w->message;
  // Fewer desirable examples than undesirable ones: the ratio is below 1 until λ_D makes up for it.
  EXPECT_TRUE(kto_class_balance(50, 100, 1, 1));
  EXPECT_FALSE(kto_class_balance(50, 100, 2.5, 1));  // 125 / 100
}

TEST(PreferenceChecks, SimpoWithTheNllTermIsNamed) {
  objectives::CpoConfig c;
  c.loss_type = objectives::CpoLossType::kSimpo;
  auto w = simpo_nll_check(c);  // cpo_alpha defaults to 1
  ASSERT_TRUE(w);
  EXPECT_EQ(w->id, "simpo_with_nll_term");
  EXPECT_NE(w->message.find("cpo_alpha 0"), std::string::npos);
  c.cpo_alpha = 0;
  EXPECT_FALSE(simpo_nll_check(c));
  c.loss_type = objectives::CpoLossType::kSigmoid;
  c.cpo_alpha = 1;
  EXPECT_FALSE(simpo_nll_check(c));  // CPO proper has the NLL term by design
}

TEST(PreferenceChecks, PlainTextDataForATemplatedModel) {
  auto w = template_format_check("ORPO", true, false);
  ASSERT_TRUE(w);
  EXPECT_EQ(w->id, "chosen_not_in_template_format");
  EXPECT_FALSE(template_format_check("ORPO", true, true));    // conversations: rendered as turns
  EXPECT_FALSE(template_format_check("ORPO", false, false));  // a base model without a template
}

TEST(PreferenceChecks, ChosenNllRising) {
  TrainingMonitor rising(20, {chosen_nll_rising_rule(20)});
  EXPECT_EQ(fired(rising, {row(5, {{"nll_loss", 2.0}}), row(10, {{"nll_loss", 2.3}}), row(15, {{"nll_loss", 2.5}})}),
            std::vector<std::string>{"chosen_nll_rising"});
  TrainingMonitor steady(20, {chosen_nll_rising_rule(20)});
  EXPECT_TRUE(fired(steady, {row(5, {{"nll_loss", 2.0}}), row(10, {{"nll_loss", 1.9}}), row(15, {{"nll_loss", 2.05}})}).empty());
}

TEST(PreferenceChecks, AverageLogProbThresholds) {
  // ORPO-scale margins (β x per-token averages): a gain of 0.03 at β 0.5 is real progress there (> 0.025),
  // while DPO's threshold (0.1) would call it flat; a gain of 0.01 is flat on both scales.
  MonitorOptions o;
  o.total_steps = 20;
  MonitorOptions avg = average_logp_thresholds(o, 0.5);
  auto margins = [](double gain) {
    return std::vector<MetricRow>{row(5, {{"rewards/margins", 0.0}}), row(10, {{"rewards/margins", gain}}),
                                  row(15, {{"rewards/margins", gain}})};
  };
  TrainingMonitor dpo_scale(o), avg_scale(avg), avg_flat(avg);
  EXPECT_EQ(fired(dpo_scale, margins(0.03)), std::vector<std::string>{"margins_not_improving"});
  EXPECT_TRUE(fired(avg_scale, margins(0.03)).empty());
  EXPECT_EQ(fired(avg_flat, margins(0.01)), std::vector<std::string>{"margins_not_improving"});
  // Rejected average log-probs falling below -5 per token collapse; -3 does not.
  auto rejected = [](double last) {
    return std::vector<MetricRow>{row(5, {{"logps/rejected", -2.0}}), row(10, {{"logps/rejected", last}})};
  };
  TrainingMonitor collapsed(avg), fine(avg);
  EXPECT_EQ(fired(collapsed, rejected(-6.0)), std::vector<std::string>{"rejected_logps_collapse"});
  EXPECT_TRUE(fired(fine, rejected(-3.0)).empty());
}

}  // namespace
}  // namespace prefer::train
