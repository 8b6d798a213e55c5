#include "train/tensorboard.h"

#include "io/tfevents.h"
#include "test_util.h"
#include "train/metrics_log.h"

namespace prefer::train {

TEST(TensorBoardLog, TagsAsTransformersRewriteLogs) {
  EXPECT_EQ(tensorboard_tag("loss"), "train/loss");
  EXPECT_EQ(tensorboard_tag("rewards/margins"), "train/rewards/margins");
  EXPECT_EQ(tensorboard_tag("eval_rewards/accuracies"), "eval/rewards/accuracies");
  EXPECT_EQ(tensorboard_tag("eval_loss"), "eval/loss");
  EXPECT_EQ(tensorboard_tag("test_loss"), "test/loss");
  EXPECT_EQ(tensorboard_tag("epoch"), "train/epoch");
}

TEST(TensorBoardLog, WritesEveryNumericValueOfARow) {
  test::TempDir tmp;
  std::filesystem::path file;
  {
    TensorBoardLog tb(tmp.path(), std::nullopt, [] { return 1000.0; });
    file = tb.path();
    OrderedJson row = make_log_row(10, 0.25, {{"loss", 0.5}, {"rewards/margins", 0.125}});
    row["note"] = "text is skipped";
    tb.log(row);
    tb.log(Json{{"eval_loss", 0.75}, {"step", 10}});
  }
  std::vector<io::TfEvent> ev = io::read_tfevents(file);
  ASSERT_EQ(ev.size(), 5u);  // file version + loss, margins, epoch + eval loss
  EXPECT_EQ(ev[1].scalars[0].tag, "train/loss");
  EXPECT_EQ(ev[1].scalars[0].value, 0.5f);
  EXPECT_EQ(ev[1].step, 10);
  EXPECT_EQ(ev[2].scalars[0].tag, "train/rewards/margins");
  EXPECT_EQ(ev[3].scalars[0].tag, "train/epoch");
  EXPECT_EQ(ev[3].scalars[0].value, 0.25f);
  EXPECT_EQ(ev[4].scalars[0].tag, "eval/loss");
}

TEST(TensorBoardLog, ResumeWritesAPurgeMarkerAfterTheCheckpoint) {
  test::TempDir tmp;
  TensorBoardLog tb(tmp.path(), 200, [] { return 1000.0; });
  std::vector<io::TfEvent> ev = io::read_tfevents(tb.path());
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[1].session_status, 1);  // SessionLog.START
  EXPECT_EQ(ev[1].step, 201);
}

}  // namespace prefer::train
