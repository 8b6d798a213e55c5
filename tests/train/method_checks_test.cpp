// The SFT and reward-model monitor rules on hand-made metric histories, and the DPO rules weighing
// their evidence (a claim over a handful of pairs stays silent).
#include <gtest/gtest.h>

#include "train/monitor.h"
#include "train/reward_checks.h"
#include "train/sft_checks.h"

namespace prefer::train {
namespace {

MetricRow row(int64_t step, std::map<std::string, double> v) { return {step, std::move(v)}; }

std::vector<std::string> fired(TrainingMonitor& m, const std::vector<MetricRow>& rows, bool finish = true) {
  std::vector<std::string> ids;
  for (const auto& r : rows)
    for (const auto& w : m.observe(r)) ids.push_back(w.id);
  if (finish)
    for (const auto& w : m.finish()) ids.push_back(w.id);
  return ids;
}

TEST(SftChecks, FlatLossAndMemorisingFire) {
  TrainingMonitor flat(10, sft_monitor_rules(10));
  auto ids = fired(flat, {row(2, {{"loss", 3.0}}), row(4, {{"loss", 2.99}}), row(6, {{"loss", 3.0}})});
  EXPECT_EQ(ids, std::vector<std::string>{"sft_loss_not_falling"});
  TrainingMonitor falling(10, sft_monitor_rules(10));
  EXPECT_TRUE(fired(falling, {row(2, {{"loss", 3.0}}), row(4, {{"loss", 2.5}}), row(6, {{"loss", 2.0}})}).empty());
  TrainingMonitor mem(10, sft_monitor_rules(10));
  ids = fired(mem, {row(2, {{"loss", 2.0}}), row(2, {{"eval_loss", 2.1}}), row(4, {{"loss", 1.0}}), row(4, {{"eval_loss", 2.0}}),
                    row(6, {{"loss", 0.2}}), row(6, {{"eval_loss", 2.4}})},
              false);
  EXPECT_EQ(ids, std::vector<std::string>{"sft_memorising"});
}

TEST(SftChecks, DataChecksCountTruncationAndMissingMarkers) {
  auto w = sft_data_checks({.examples = 100, .truncated = 6, .conversational = true, .template_has_generation = false});
  ASSERT_EQ(w.size(), 2u);
  EXPECT_EQ(w[0].id, "sft_completions_truncated");
  EXPECT_EQ(w[1].id, "sft_template_without_assistant_markers");
  EXPECT_TRUE(sft_data_checks({.examples = 100, .truncated = 5, .conversational = false}).empty());
}

TEST(RewardChecks, PearsonOfKnownPairs) {
  EXPECT_NEAR(pearson({{1, 2}, {2, 4}, {3, 6}}), 1.0, 1e-12);
  EXPECT_NEAR(pearson({{1, 3}, {2, 2}, {3, 1}}), -1.0, 1e-12);
  // x = (1, 2, 3, 4), y = (1, 3, 2, 4): cov 1.25 * 4/4, var 1.25 each -> 0.8.
  EXPECT_NEAR(pearson({{1, 1}, {2, 3}, {3, 2}, {4, 4}}), 0.8, 1e-12);
  EXPECT_EQ(pearson({{1, 1}, {1, 2}}), 0.0);
}

TEST(RewardChecks, ChanceGapDriftAndLengthBias) {
  RewardCheckOptions o{.total_steps = 10, .pairs_per_log = 64};
  o.length_pairs = [] { return std::vector<std::pair<double, double>>{{1, 10}, {2, 20}, {0.5, 5}, {3, 31}}; };
  TrainingMonitor m(10, reward_monitor_rules(o));
  auto ids = fired(m, {row(2, {{"accuracy", 0.5}, {"mean_reward", 0.1}}), row(4, {{"accuracy", 0.52}, {"mean_reward", 7.0}}),
                       row(4, {{"eval_accuracy", 0.3}})});
  EXPECT_EQ(ids, (std::vector<std::string>{"rm_accuracy_near_chance", "rm_rewards_drifting", "rm_eval_accuracy_gap", "rm_length_bias"}));
  // Centring on: no drift rule. Few pairs behind the rows: no chance claim.
  RewardCheckOptions few{.total_steps = 10, .centring = true, .pairs_per_log = 2};
  TrainingMonitor q(10, reward_monitor_rules(few));
  EXPECT_TRUE(fired(q, {row(2, {{"accuracy", 0.5}, {"mean_reward", 7}}), row(4, {{"accuracy", 0.5}, {"mean_reward", 7}})}).empty());
}

TEST(DpoChecks, SaturatedAccuracyNeedsEnoughPairs) {
  // 4 steps of 2 pairs, logged every step: accuracy 1.0 over 2 pairs claims nothing.
  MonitorOptions o{.total_steps = 4, .pairs_per_log = 2};
  TrainingMonitor few(o);
  std::vector<MetricRow> rows;
  for (int s = 1; s <= 4; ++s) rows.push_back(row(s, {{"rewards/accuracies", 1.0}, {"rewards/margins", 0.5 * s}, {"rewards/chosen", 0.1 * s}}));
  for (const auto& id : fired(few, rows)) EXPECT_NE(id, "rewards_accuracy_saturated");
  o.pairs_per_log = 64;
  TrainingMonitor many(o);
  auto ids = fired(many, rows);
  EXPECT_NE(std::find(ids.begin(), ids.end(), "rewards_accuracy_saturated"), ids.end());
}

}  // namespace
}  // namespace prefer::train
