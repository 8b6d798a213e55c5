#include "util/timer.h"

#include <gtest/gtest.h>

namespace prefer {

TEST(Timer, TotalsAccumulatePerName) {
  TimerTotals t;
  t.add("forward", 1.5);
  t.add("forward", 0.5);
  t.add("backward", 3.0);
  EXPECT_DOUBLE_EQ(t.entries().at("forward").seconds, 2.0);
  EXPECT_EQ(t.entries().at("forward").calls, 2);
  EXPECT_DOUBLE_EQ(t.total(), 5.0);
  { ScopedTimer s(t, "scoped"); }
  EXPECT_EQ(t.entries().at("scoped").calls, 1);
  EXPECT_GE(t.entries().at("scoped").seconds, 0.0);
}

TEST(Timer, StopwatchIsMonotonic) {
  Stopwatch w;
  double a = w.seconds();
  double b = w.seconds();
  EXPECT_GE(a, 0.0);
  EXPECT_GE(b, a);
}

TEST(Timer, FormatsDurations) {
  EXPECT_EQ(format_duration(4.24), "4.2s");
  EXPECT_EQ(format_duration(125), "2m05s");
  EXPECT_EQ(format_duration(3723), "1h02m03s");
  EXPECT_EQ(format_duration(-1), "?");
}

}  // namespace prefer
