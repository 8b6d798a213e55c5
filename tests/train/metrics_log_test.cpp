#include "train/metrics_log.h"

#include <cmath>
#include <limits>

#include "test_util.h"
#include "util/file.h"

namespace prefer::train {

TEST(MetricsLog, WritesTransformersRowsInOrder) {
  test::TempDir tmp;
  {
    MetricsLog log(tmp.path(), std::nullopt);
    log.log(make_log_row(10, 0.5, {{"loss", 0.6931}, {"grad_norm", 1.5}, {"learning_rate", 5e-07},
                                  {"rewards/chosen", 0.01}}));
    log.log(make_log_row(10, 0.5, {{"eval_loss", 0.69}, {"eval_rewards/accuracies", 0.5}}));
    // Each row is on disk as soon as log() returns: read it while the writer is open.
    EXPECT_EQ(read_file(tmp / "metrics.jsonl"),
              "{\"loss\":0.6931,\"grad_norm\":1.5,\"learning_rate\":5e-07,\"rewards/chosen\":0.01,\"epoch\":0.5,"
              "\"step\":10}\n"
              "{\"eval_loss\":0.69,\"eval_rewards/accuracies\":0.5,\"epoch\":0.5,\"step\":10}\n");
  }
  std::vector<MetricRow> rows = read_metrics(tmp / "metrics.jsonl");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].step, 10);
  EXPECT_EQ(rows[0].at("learning_rate"), 5e-07);
  EXPECT_FALSE(rows[0].is_eval());
  EXPECT_TRUE(rows[1].is_eval());
}

TEST(MetricsLog, NonFiniteValuesBecomeNullAndReadBackAsNaN) {
  test::TempDir tmp;
  {
    MetricsLog log(tmp.path(), std::nullopt);
    log.log(make_log_row(1, 0.1, {{"loss", std::numeric_limits<double>::quiet_NaN()}}));
  }
  EXPECT_EQ(read_file(tmp / "metrics.jsonl"), "{\"loss\":null,\"epoch\":0.1,\"step\":1}\n");
  EXPECT_TRUE(std::isnan(read_metrics(tmp / "metrics.jsonl")[0].at("loss")));
}

// A run killed at step 30 after its checkpoint at step 20, resumed from that checkpoint, must leave the
// same file as a run that was never interrupted.
TEST(MetricsLog, ResumeDropsRowsAfterTheCheckpoint) {
  test::TempDir straight, broken;
  auto row = [](int64_t s) { return make_log_row(s, s / 100.0, {{"loss", 1.0 / static_cast<double>(s)}}); };
  {
    MetricsLog log(straight.path(), std::nullopt);
    for (int s = 10; s <= 40; s += 10) log.log(row(s));
  }
  {
    MetricsLog log(broken.path(), std::nullopt);
    for (int s = 10; s <= 30; s += 10) log.log(row(s));
  }
  // The kill tore the last line in half.
  std::string text = read_file(broken / "metrics.jsonl") + "{\"loss\":0.02,\"ep";
  test::write_bytes(broken / "metrics.jsonl", text);
  {
    MetricsLog log(broken.path(), 20);
    for (int s = 30; s <= 40; s += 10) log.log(row(s));
  }
  EXPECT_EQ(read_file(broken / "metrics.jsonl"), read_file(straight / "metrics.jsonl"));
}

TEST(MetricsLog, NewRunReplacesAnOldFile) {
  test::TempDir tmp;
  test::write_bytes(tmp / "metrics.jsonl", "{\"loss\":1,\"step\":5}\n");
  MetricsLog log(tmp.path(), std::nullopt);
  EXPECT_EQ(read_file(tmp / "metrics.jsonl"), "");
}

TEST(MetricsLog, ErrorsNameFileAndLine) {
  test::TempDir tmp;
  test::write_bytes(tmp / "metrics.jsonl", "{\"loss\":1,\"step\":5}\nnot json\n{\"step\":6}\n");
  EXPECT_ERROR_WITH(MetricsLog(tmp.path(), 5), "metrics.jsonl:2");
  test::write_bytes(tmp / "metrics.jsonl", "{\"loss\":1}\n");
  EXPECT_ERROR_WITH(MetricsLog(tmp.path(), 5), "metrics.jsonl:1", "'step'");
  MetricsLog log(tmp.path(), std::nullopt);
  EXPECT_ERROR_WITH(log.log(OrderedJson{{"loss", 1}}), "\"step\"");
}

TEST(WarningsLog, RoundTripsAndTruncatesOnResume) {
  test::TempDir tmp;
  TrainingWarning pre{.id = "no_chat_template", .step = 0, .message = "m0"};
  TrainingWarning mid{.id = "margins_not_improving", .step = 40, .message = "m1"};
  mid.evidence["rewards/margins"] = 0.02;
  TrainingWarning late{.id = "nonfinite_loss", .step = 70, .message = "m2", .fatal = true};
  {
    WarningsLog log(tmp.path(), std::nullopt);
    for (const auto* w : {&pre, &mid, &late}) log.log(*w);
  }
  const std::string text = read_file(tmp / "warnings.jsonl");
  EXPECT_EQ(text.substr(0, text.find('\n')),
            "{\"step\":0,\"warning\":\"no_chat_template\",\"message\":\"m0\",\"evidence\":{}}");
  EXPECT_NE(text.find("\"fatal\":true}\n"), std::string::npos);
  std::vector<TrainingWarning> all = read_warnings(tmp / "warnings.jsonl");
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[1].evidence["rewards/margins"], 0.02);
  EXPECT_TRUE(all[2].fatal);
  WarningsLog resumed(tmp.path(), 50);
  EXPECT_EQ(read_warnings(tmp / "warnings.jsonl").size(), 2u);
}

}  // namespace prefer::train
