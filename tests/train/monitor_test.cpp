#include "train/monitor.h"

#include <cmath>
#include <functional>
#include <limits>

#include "test_util.h"

namespace prefer::train {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// A healthy 100-step DPO run logged every 10 steps (f = step / 100): margins grow steadily, chosen rewards
// rise a little, accuracy climbs from 0.6 to 0.85, rejected log-probs fall moderately; evaluations every
// 20 steps follow the training margins and end at an accuracy of 0.8.
MetricRow train_row(int64_t step) {
  const double f = static_cast<double>(step) / 100.0;
  const double chosen = 0.05 + 0.1 * f, margins = 0.1 + 2.0 * f;
  return {.step = step,
          .values = {{"loss", 0.69 - 0.3 * f},
                     {"grad_norm", 2.0},
                     {"learning_rate", 1e-6},
                     {"rewards/chosen", chosen},
                     {"rewards/rejected", chosen - margins},
                     {"rewards/margins", margins},
                     {"rewards/accuracies", 0.6 + 0.25 * f},
                     {"logps/chosen", -55 + 2 * f},
                     {"logps/rejected", -60 - 20 * f},
                     {"epoch", f}}};
}

MetricRow eval_row(int64_t step) {
  const double f = static_cast<double>(step) / 100.0;
  return {.step = step,
          .values = {{"eval_loss", 0.69 - 0.2 * f},
                     {"eval_rewards/margins", 0.1 + 1.5 * f},
                     {"eval_rewards/accuracies", 0.6 + 0.2 * f},
                     {"epoch", f}}};
}

MonitorOptions options() { return {.total_steps = 100, .mean_rejected_length = 100}; }

// Runs the healthy run with `edit` applied to every train row (and `edit_eval` to eval rows); returns
// every warning, those of finish() included.
std::vector<TrainingWarning> run(const std::function<void(MetricRow&)>& edit,
                                 const std::function<void(MetricRow&)>& edit_eval = {},
                                 MonitorOptions o = options()) {
  TrainingMonitor m(o);
  std::vector<TrainingWarning> all;
  for (int64_t s = 10; s <= 100; s += 10) {
    MetricRow r = train_row(s);
    if (edit) edit(r);
    for (auto& w : m.observe(r)) all.push_back(w);
    if (s % 20 == 0) {
      MetricRow e = eval_row(s);
      if (edit_eval) edit_eval(e);
      for (auto& w : m.observe(e)) all.push_back(w);
    }
  }
  for (auto& w : m.finish()) all.push_back(w);
  return all;
}

const TrainingWarning* find(const std::vector<TrainingWarning>& ws, const std::string& id) {
  for (const auto& w : ws)
    if (w.id == id) return &w;
  return nullptr;
}

bool mentions(const TrainingWarning* w, const std::string& text) {
  return w != nullptr && w->message.find(text) != std::string::npos;
}

}  // namespace

TEST(TrainingMonitor, HealthyRunRaisesNothing) {
  std::vector<TrainingWarning> ws = run({});
  for (const auto& w : ws) ADD_FAILURE() << w.id << ": " << w.message;
}

TEST(TrainingMonitor, NonFiniteLossIsFatalAndFiresOnce) {
  std::vector<TrainingWarning> ws = run([](MetricRow& r) {
    if (r.step >= 30) r.values["loss"] = kNaN;
  });
  ASSERT_EQ(ws.size(), 1u);
  EXPECT_EQ(ws[0].id, "nonfinite_loss");
  EXPECT_TRUE(ws[0].fatal);
  EXPECT_EQ(ws[0].step, 30);
  EXPECT_TRUE(mentions(&ws[0], "At step 30 the training loss is NaN"));
  EXPECT_EQ(ws[0].evidence["loss"], "NaN");

  ws = run([](MetricRow& r) {
    if (r.step == 50) r.values["grad_norm"] = std::numeric_limits<double>::infinity();
  });
  ASSERT_NE(find(ws, "nonfinite_grad_norm"), nullptr);
  EXPECT_TRUE(mentions(find(ws, "nonfinite_grad_norm"), "is infinite"));
}

TEST(TrainingMonitor, NonFiniteLossWarningCarriesTheExampleLines) {
  TrainingWarning w = nonfinite_loss_warning(7, std::numeric_limits<double>::infinity(), {12, 40});
  EXPECT_TRUE(w.fatal);
  EXPECT_EQ(w.evidence["example_lines"], OrderedJson::array({12, 40}));
  EXPECT_TRUE(mentions(&w, "lines 12, 40"));
  EXPECT_EQ(w.evidence["loss"], "Infinity");
}

TEST(TrainingMonitor, RejectedLogpsCollapse) {
  // Rejected responses of 50 tokens at -150: -300 per 100 tokens.
  auto collapse = [](MetricRow& r) {
    if (r.step >= 60) r.values["logps/rejected"] = -150;
  };
  MonitorOptions o = options();
  o.mean_rejected_length = 50;
  std::vector<TrainingWarning> ws = run(collapse, {}, o);
  const TrainingWarning* w = find(ws, "rejected_logps_collapse");
  ASSERT_NE(w, nullptr);
  EXPECT_EQ(w->step, 60);
  EXPECT_TRUE(mentions(w, "-150")) << w->message;
  EXPECT_TRUE(mentions(w, "-300 per 100 tokens")) << w->message;
  EXPECT_TRUE(mentions(w, "it was -62 at the first log")) << w->message;  // -60 - 20 * 0.1
  // The same value over 500-token responses is only -30 per 100 tokens: normal.
  o.mean_rejected_length = 500;
  EXPECT_EQ(find(run(collapse, {}, o), "rejected_logps_collapse"), nullptr);
  // Unknown length: the absolute test alone.
  o.mean_rejected_length = 0;
  EXPECT_TRUE(mentions(find(run(collapse, {}, o), "rejected_logps_collapse"), "not given"));
  // Starting that low is not collapsing (an untrained model over long responses): it must fall.
  auto low_from_start = [](MetricRow& r) { r.values["logps/rejected"] = -250 - 0.01 * static_cast<double>(r.step); };
  o.mean_rejected_length = 50;
  EXPECT_EQ(find(run(low_from_start, {}, o), "rejected_logps_collapse"), nullptr);
}

TEST(TrainingMonitor, MarginsNotImproving) {
  std::vector<TrainingWarning> ws = run([](MetricRow& r) {
    r.values["rewards/margins"] = 0.05 + 0.0001 * static_cast<double>(r.step);
  });
  const TrainingWarning* w = find(ws, "margins_not_improving");
  ASSERT_NE(w, nullptr);
  EXPECT_EQ(w->step, 20);  // the first log at >= 20% of the steps
  EXPECT_TRUE(mentions(w, "learning_rate and beta")) << w->message;
  EXPECT_TRUE(mentions(w, "gained only 0.001")) << w->message;
  EXPECT_EQ(ws.size(), 1u);
}

TEST(TrainingMonitor, AccuracySaturatedEarly) {
  std::vector<TrainingWarning> ws = run([](MetricRow& r) {
    if (r.step == 10) r.values["rewards/accuracies"] = 0.99;
  });
  const TrainingWarning* w = find(ws, "rewards_accuracy_saturated");
  ASSERT_NE(w, nullptr);
  EXPECT_EQ(w->step, 10);
  EXPECT_TRUE(mentions(w, "first 10% of the run")) << w->message;
  EXPECT_TRUE(mentions(w, "raising beta or stopping earlier")) << w->message;
}

TEST(TrainingMonitor, AccuracySaturatedAtTheEnd) {
  TrainingMonitor m(options());
  for (int64_t s = 10; s <= 100; s += 10) {
    MetricRow r = train_row(s);
    if (s == 100) r.values["rewards/accuracies"] = 0.995;
    EXPECT_TRUE(m.observe(r).empty()) << s;  // the end-of-run test waits for finish()
  }
  std::vector<TrainingWarning> ws = m.finish();
  ASSERT_EQ(ws.size(), 1u);
  EXPECT_EQ(ws[0].id, "rewards_accuracy_saturated");
  EXPECT_EQ(ws[0].step, 100);
  EXPECT_TRUE(mentions(&ws[0], "0.995"));
}

TEST(TrainingMonitor, LikelihoodDisplacement) {
  std::vector<TrainingWarning> ws = run([](MetricRow& r) {
    const double f = static_cast<double>(r.step) / 100.0;
    r.values["rewards/chosen"] = -0.8 * f;  // falling
    r.values["rewards/margins"] = 0.1 + 2.0 * f;
  });
  const TrainingWarning* w = find(ws, "likelihood_displacement");
  ASSERT_NE(w, nullptr);
  // At step 20 chosen fell only 0.08 (< 0.1); at step 30 the mean of steps 20 and 30 is -0.2, 0.12 below -0.08.
  EXPECT_EQ(w->step, 30);
  EXPECT_TRUE(mentions(w, "from -0.08 to -0.2")) << w->message;
  EXPECT_TRUE(mentions(w, "sft")) << w->message;
  EXPECT_TRUE(w->evidence.contains("recent logps/chosen"));
}

TEST(TrainingMonitor, AccuracyNearChance) {
  std::vector<TrainingWarning> ws = run([](MetricRow& r) {
    r.values["rewards/accuracies"] = r.step % 20 == 0 ? 0.52 : 0.47;
  });
  const TrainingWarning* w = find(ws, "accuracy_near_chance");
  ASSERT_NE(w, nullptr);
  EXPECT_EQ(w->step, 30);  // the first log at >= 25% of the steps
  EXPECT_TRUE(mentions(w, "swapped")) << w->message;
  EXPECT_TRUE(mentions(w, "0.495")) << w->message;  // mean of 0.52 (step 20) and 0.47 (step 30)
}

TEST(TrainingMonitor, EvalMarginsDivergingFromTrain) {
  // Eval margins 0.4, 0.6, 0.5, 0.35, 0.2 at steps 20..100 while the train margins keep rising.
  std::vector<TrainingWarning> ws = run({}, [](MetricRow& e) {
    const double v[] = {0.4, 0.6, 0.5, 0.35, 0.2};
    e.values["eval_rewards/margins"] = v[e.step / 20 - 1];
  });
  const TrainingWarning* w = find(ws, "eval_margins_diverging");
  ASSERT_NE(w, nullptr);
  // At the 4th evaluation (step 80) the second half starts at step 60 (0.5): 0.5 -> 0.35 is 0.15 down, while
  // the train margins went 1.3 -> 1.7.
  EXPECT_EQ(w->step, 80);
  EXPECT_TRUE(mentions(w, "Between step 60 and step 80")) << w->message;
  EXPECT_TRUE(mentions(w, "from 0.5 to 0.35")) << w->message;
  EXPECT_TRUE(mentions(w, "from 1.3 to 1.7")) << w->message;
}

TEST(TrainingMonitor, FinalEvalAccuracyOutsideTheExpectedRange) {
  auto low = run({}, [](MetricRow& e) { e.values["eval_rewards/accuracies"] = 0.62; });
  const TrainingWarning* w = find(low, "eval_accuracy_out_of_range");
  ASSERT_NE(w, nullptr);
  EXPECT_EQ(w->step, 100);
  EXPECT_TRUE(mentions(w, "only 62%")) << w->message;
  auto high = run({}, [](MetricRow& e) { e.values["eval_rewards/accuracies"] = 0.97; });
  EXPECT_TRUE(mentions(find(high, "eval_accuracy_out_of_range"), "overlaps the training set"));
}

TEST(TrainingMonitor, ResumedMonitorKeepsHistoryAndFiredIds) {
  MonitorOptions o = options();
  TrainingMonitor first(o);
  std::vector<MetricRow> rows;
  std::vector<TrainingWarning> fired;
  for (int64_t s = 10; s <= 50; s += 10) {
    MetricRow r = train_row(s);
    r.values["rewards/margins"] = 0.05;
    rows.push_back(r);
    for (auto& w : first.observe(r)) fired.push_back(w);
  }
  ASSERT_EQ(fired.size(), 1u);  // margins_not_improving at step 20

  TrainingMonitor resumed(o);
  resumed.restore(rows, fired);
  EXPECT_TRUE(resumed.fired("margins_not_improving"));
  EXPECT_EQ(resumed.history().train.size(), 5u);
  MetricRow r = train_row(60);
  r.values["rewards/margins"] = 0.05;
  EXPECT_TRUE(resumed.observe(r).empty());  // not again
  // Without the fired ids, the restored history alone makes the margins check fire at once.
  TrainingMonitor again(o);
  again.restore(rows, {});
  EXPECT_EQ(again.observe(r).size(), 1u);
}

TEST(TrainingMonitor, ReadsJsonRows) {
  TrainingMonitor m(options());
  auto ws = m.observe(Json{{"loss", nullptr}, {"epoch", 0.1}, {"step", 10}});  // NaN is written as null
  ASSERT_EQ(ws.size(), 1u);
  EXPECT_EQ(ws[0].id, "nonfinite_loss");
  EXPECT_ERROR_WITH(TrainingMonitor(MonitorOptions{}), "total_steps");
}

}  // namespace prefer::train
