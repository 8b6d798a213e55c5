#include "train/lr_schedule.h"

#include <cmath>

#include "test_util.h"

namespace prefer::train {

namespace {

LrSchedule make(ScheduleType type, int64_t total, int64_t warmup, double lr = 1e-3, ScheduleOptions o = {}) {
  o.type = type;
  o.total_steps = total;
  o.warmup_steps = warmup;
  return LrSchedule(o, lr);
}

}  // namespace

// Expected values below are transformers' LambdaLR formulas worked by hand.

TEST(LrSchedule, LinearWarmsUpThenDecaysToZero) {
  LrSchedule s = make(ScheduleType::Linear, 10, 2);
  EXPECT_EQ(s.multiplier(0), 0.0);   // the first optimizer step runs at lr 0, as in transformers
  EXPECT_EQ(s.multiplier(1), 0.5);   // 1 / 2
  EXPECT_EQ(s.multiplier(2), 1.0);   // (10 - 2) / (10 - 2)
  EXPECT_EQ(s.multiplier(6), 0.5);   // (10 - 6) / 8
  EXPECT_EQ(s.multiplier(10), 0.0);
  EXPECT_EQ(s.multiplier(12), 0.0);  // max(0, -2 / 8)
  EXPECT_DOUBLE_EQ(s.lr(6), 5e-4);
  // No warmup: starts at the full rate.
  EXPECT_EQ(make(ScheduleType::Linear, 4, 0).multiplier(0), 1.0);
  EXPECT_EQ(make(ScheduleType::Linear, 4, 0).multiplier(1), 0.75);
}

TEST(LrSchedule, CosineFollowsHalfACosine) {
  LrSchedule s = make(ScheduleType::Cosine, 12, 2);
  EXPECT_EQ(s.multiplier(1), 0.5);
  EXPECT_EQ(s.multiplier(2), 1.0);                          // cos(0)
  EXPECT_NEAR(s.multiplier(4), 0.9045084971874737, 1e-15);  // progress 0.2: (1 + cos(0.2 pi)) / 2
  EXPECT_NEAR(s.multiplier(7), 0.5, 1e-15);                 // progress 0.5: cos(pi / 2) = 0
  EXPECT_NEAR(s.multiplier(12), 0.0, 1e-15);                // cos(pi) = -1
}

TEST(LrSchedule, CosineWithMinLrStopsAtTheFloor) {
  ScheduleOptions o;
  o.min_lr_rate = 0.1;
  LrSchedule s = make(ScheduleType::CosineWithMinLr, 10, 0, 1e-3, o);
  EXPECT_NEAR(s.multiplier(5), 0.55, 1e-15);   // 0.5 * 0.9 + 0.1
  EXPECT_NEAR(s.multiplier(10), 0.1, 1e-15);   // 0 * 0.9 + 0.1
  o.min_lr_rate.reset();
  o.min_lr = 2e-4;  // rate 0.2
  EXPECT_NEAR(make(ScheduleType::CosineWithMinLr, 10, 0, 1e-3, o).multiplier(10), 0.2, 1e-15);
  EXPECT_ERROR_WITH(make(ScheduleType::CosineWithMinLr, 10, 0), "min_lr_rate", "lr_scheduler_kwargs");
}

TEST(LrSchedule, CosineWithRestartsRestarts) {
  ScheduleOptions o;
  o.num_cycles = 2;
  LrSchedule s = make(ScheduleType::CosineWithRestarts, 10, 0, 1e-3, o);
  EXPECT_EQ(s.multiplier(0), 1.0);
  EXPECT_NEAR(s.multiplier(2), 0.6545084971874737, 1e-15);  // (2 * 0.2) mod 1 = 0.4: (1 + cos(0.4 pi)) / 2
  EXPECT_NEAR(s.multiplier(5), 1.0, 1e-15);                 // (2 * 0.5) mod 1 = 0: the restart
  EXPECT_EQ(s.multiplier(10), 0.0);                         // progress >= 1
  // Default: one cycle, i.e. plain cosine over the run.
  EXPECT_NEAR(make(ScheduleType::CosineWithRestarts, 10, 0).multiplier(5), 0.5, 1e-15);
}

TEST(LrSchedule, ConstantSchedules) {
  EXPECT_EQ(make(ScheduleType::Constant, 10, 4).multiplier(0), 1.0);  // constant ignores warmup
  LrSchedule s = make(ScheduleType::ConstantWithWarmup, 10, 4);
  EXPECT_EQ(s.multiplier(1), 0.25);
  EXPECT_EQ(s.multiplier(4), 1.0);
  EXPECT_EQ(s.multiplier(100), 1.0);
}

TEST(LrSchedule, PolynomialDecaysToLrEnd) {
  ScheduleOptions o;
  o.power = 2.0;
  LrSchedule s = make(ScheduleType::Polynomial, 10, 0, 1e-3, o);
  // step 5: ((1e-3 - 1e-7) * 0.5^2 + 1e-7) / 1e-3 = 0.250075
  EXPECT_NEAR(s.multiplier(5), 0.250075, 1e-13);
  EXPECT_NEAR(s.multiplier(10), 1e-4, 1e-16);  // lr_end / lr
  EXPECT_NEAR(s.multiplier(11), 1e-4, 1e-16);
  EXPECT_ERROR_WITH(make(ScheduleType::Polynomial, 10, 0, 1e-8), "lr_end", "smaller than learning_rate");
}

TEST(LrSchedule, InverseSqrt) {
  EXPECT_EQ(make(ScheduleType::InverseSqrt, 100, 4).multiplier(2), 0.5);   // warmup
  EXPECT_EQ(make(ScheduleType::InverseSqrt, 100, 4).multiplier(16), 0.5);  // 1 / sqrt(16 / 4)
  EXPECT_EQ(make(ScheduleType::InverseSqrt, 100, 0).multiplier(30000), 0.5);  // timescale 10000: 1/sqrt(4)
}

TEST(LrSchedule, WarmupStepsFromRatioAsTransformers) {
  EXPECT_EQ(resolve_warmup_steps(1000, 0, 0.1), 100);
  // 100 * 0.07 is 7.000000000000001 in double, so Python's math.ceil gives 8.
  EXPECT_EQ(resolve_warmup_steps(100, 0, 0.07), 8);
  EXPECT_EQ(resolve_warmup_steps(100, 5, 0.5), 5);     // explicit steps win over the ratio (transformers 4)
  EXPECT_EQ(resolve_warmup_steps(200, 0.05), 10);      // transformers 5: a fraction given as warmup_steps
  EXPECT_EQ(resolve_warmup_steps(10, 2.9), 2);         // int()
  EXPECT_EQ(resolve_warmup_steps(10, 0, 0), 0);
  EXPECT_ERROR_WITH(resolve_warmup_steps(10, 0, 1.5), "warmup_ratio");
  EXPECT_ERROR_WITH(resolve_warmup_steps(10, -1), "warmup_steps");
}

TEST(LrSchedule, NamesAndErrors) {
  EXPECT_EQ(parse_schedule_type("cosine"), ScheduleType::Cosine);
  EXPECT_EQ(parse_schedule_type("constant_with_warmup"), ScheduleType::ConstantWithWarmup);
  for (const std::string& n : schedule_type_names()) EXPECT_EQ(schedule_type_name(parse_schedule_type(n)), n);
  EXPECT_ERROR_WITH(parse_schedule_type("cosin"), "lr_scheduler_type", "'cosin'", "did you mean 'cosine'",
                    "linear, cosine");
  EXPECT_ERROR_WITH(parse_schedule_type("reduce_lr_on_plateau"), "does not implement");
  EXPECT_ERROR_WITH(make(ScheduleType::Linear, 0, 0), "max_steps");
}

}  // namespace prefer::train
