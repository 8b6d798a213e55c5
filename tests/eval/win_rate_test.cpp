#include "eval/win_rate.h"

#include <gtest/gtest.h>

#include <cmath>

namespace prefer::eval {

TEST(WinRate, AWinNeedsBothOrdersToAgree) {
  // model_first: the model is A; model_second: the model is B.
  EXPECT_EQ(combine(Verdict::A, Verdict::B), Outcome::Win);
  EXPECT_EQ(combine(Verdict::B, Verdict::A), Outcome::Loss);
  EXPECT_EQ(combine(Verdict::A, Verdict::A), Outcome::Tie);  // position bias: inconsistent
  EXPECT_EQ(combine(Verdict::B, Verdict::B), Outcome::Tie);
  EXPECT_EQ(combine(Verdict::Tie, Verdict::B), Outcome::Tie);
  EXPECT_EQ(combine(Verdict::A, Verdict::Tie), Outcome::Tie);
  EXPECT_EQ(combine(Verdict::Error, Verdict::B), Outcome::Error);
  EXPECT_EQ(combine(Verdict::A, Verdict::Error), Outcome::Error);
}

TEST(WinRate, WilsonIntervalMatchesItsClosedForm) {
  const double z = 1.959963984540054, z2 = z * z;
  // k = 0: [0, z^2 / (n + z^2)].
  auto [lo0, hi0] = wilson_interval(0, 10);
  EXPECT_DOUBLE_EQ(lo0, 0.0);
  EXPECT_NEAR(hi0, z2 / (10 + z2), 1e-12);
  // k = n: [n / (n + z^2), 1].
  auto [lo1, hi1] = wilson_interval(20, 20);
  EXPECT_NEAR(lo1, 20 / (20 + z2), 1e-12);
  EXPECT_DOUBLE_EQ(hi1, 1.0);
  // k = n/2: symmetric about 1/2 with half-width z sqrt(n/4 + z^2/4) / (n + z^2).
  auto [lo, hi] = wilson_interval(50, 100);
  EXPECT_NEAR(lo + hi, 1.0, 1e-12);
  EXPECT_NEAR(hi - lo, 2 * z * std::sqrt(100 / 4.0 + z2 / 4) / (100 + z2), 1e-12);
  EXPECT_EQ(wilson_interval(0, 0), (std::pair<double, double>{0.0, 1.0}));
}

TEST(WinRate, LengthControlledEqualsAdjustedWhenLengthsAgree) {
  const std::vector<double> y = {1, 1, 0.5, 0, 1, 0.5, 0};
  EXPECT_NEAR(length_controlled_win_rate(y, std::vector<double>(7, 3.0)), 4.0 / 7, 1e-10);
}

TEST(WinRate, LengthControlledRemovesALengthEffect) {
  // Two equal groups at d = +c and -c, so x = +-tanh(1): the fit is saturated, sigmoid(a + b t) is the
  // group mean, and at d = 0 the rate is sigmoid of the mean of the two groups' logits.
  std::vector<double> y, d;
  for (int i = 0; i < 10; ++i) y.push_back(i < 8 ? 1.0 : 0.0), d.push_back(40);   // longer answers win 80%
  for (int i = 0; i < 10; ++i) y.push_back(i < 4 ? 1.0 : 0.0), d.push_back(-40);  // shorter ones 40%
  auto logit = [](double p) { return std::log(p / (1 - p)); };
  const double expected = 1 / (1 + std::exp(-(logit(0.8) + logit(0.4)) / 2));
  EXPECT_NEAR(length_controlled_win_rate(y, d), expected, 1e-4);
  EXPECT_NEAR(length_controlled_win_rate({1, 1}, {5, -5}), 1.0, 1e-12);  // all wins
}

TEST(WinRate, SummaryKeepsJudgeErrorsOutOfTheRates) {
  std::vector<Outcome> o = {Outcome::Win, Outcome::Win, Outcome::Tie, Outcome::Loss, Outcome::Error};
  WinRate w = summarize(o, {10, 10, 10, 10, 10}, {10, 10, 10, 10, 10});
  EXPECT_EQ(w.judged, 4);
  EXPECT_EQ(w.errors, 1);
  EXPECT_DOUBLE_EQ(w.win_rate, 0.5);
  EXPECT_DOUBLE_EQ(w.tie_rate + w.win_rate + w.loss_rate, 1.0);
  EXPECT_DOUBLE_EQ(w.adjusted_win_rate, 0.625);
  EXPECT_NEAR(w.length_controlled_win_rate, 0.625, 1e-10);
  EXPECT_EQ(w.win_rate_ci, wilson_interval(2, 4));
}

}  // namespace prefer::eval
