#include "util/progress.h"

#include <gtest/gtest.h>

#include <sstream>

namespace prefer {

TEST(Progress, TerminalRedrawsOneLineWithRateAndEta) {
  double now = 0;
  std::ostringstream out;
  {
    ProgressBar bar(100, {.label = "dpo", .unit = "steps", .tty = true, .bar_width = 10, .clock = [&] { return now; }}, out);
    now = 10;
    bar.update(25, "loss 0.69");
    EXPECT_DOUBLE_EQ(bar.rate(), 2.5);
    EXPECT_DOUBLE_EQ(bar.eta_seconds(), 30.0);
    std::string s = out.str();
    EXPECT_NE(s.find("\r"), std::string::npos);
    EXPECT_NE(s.find("[##........] 25/100 (25%)"), std::string::npos) << s;
    EXPECT_NE(s.find("2.50 steps/s"), std::string::npos) << s;
    EXPECT_NE(s.find("ETA 30.0s"), std::string::npos) << s;
    EXPECT_NE(s.find("| loss 0.69"), std::string::npos) << s;
    EXPECT_EQ(s.find('\n'), std::string::npos);  // nothing but redraws until the end
    now = 40;
    bar.finish();
  }
  EXPECT_EQ(out.str().back(), '\n');
  EXPECT_NE(out.str().find("took 40.0s"), std::string::npos);
}

TEST(Progress, PlainModePrintsPeriodicLinesOnly) {
  double now = 0;
  std::ostringstream out;
  ProgressBar bar(1000, {.label = "tokenize", .tty = false, .plain_interval_s = 30, .clock = [&] { return now; }}, out);
  for (int i = 1; i <= 1000; ++i) {
    now = i * 0.125;  // 125 s in all; exact in binary, so the interval arithmetic is exact
    bar.update(i);
  }
  bar.finish();
  std::string s = out.str();
  EXPECT_EQ(s.find('\r'), std::string::npos);
  EXPECT_EQ(s.find("\033"), std::string::npos);
  size_t lines = std::count(s.begin(), s.end(), '\n');
  EXPECT_EQ(lines, 6u) << s;  // t = 0.125, 30.125, 60.125, 90.125, 120.125, and the final line
  EXPECT_NE(s.find("tokenize: 241/1000 (24%) 8.00 it/s, ETA 1m35s"), std::string::npos) << s;
  EXPECT_NE(s.find("tokenize: 1000/1000 (100%) 8.00 it/s, took 2m05s"), std::string::npos) << s;
}

TEST(Progress, UnknownTotalAndZeroRate) {
  double now = 0;
  std::ostringstream out;
  ProgressBar bar(0, {.tty = false, .clock = [&] { return now; }}, out);
  EXPECT_LT(bar.eta_seconds(), 0);
  EXPECT_DOUBLE_EQ(bar.rate(), 0.0);
  bar.update(5);
  EXPECT_NE(out.str().find("5 0 it/s, ETA ?"), std::string::npos) << out.str();
}

}  // namespace prefer
