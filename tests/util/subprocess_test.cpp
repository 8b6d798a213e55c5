#include "util/subprocess.h"

#include <gtest/gtest.h>

namespace prefer {

TEST(Subprocess, FeedsStdinAndCollectsStdoutWithoutDeadlock) {
  // 4 MB through `cat`: more than any pipe buffer, so writing and reading must interleave.
  std::string big(4 << 20, 'x');
  ProgramResult r = run_program("cat", big, 30);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out.size(), big.size());
  EXPECT_FALSE(r.timed_out);
}

TEST(Subprocess, ReportsExitCodeStderrAndTimeouts) {
  ProgramResult r = run_program("echo oops >&2; exit 3", "", 10);
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(r.err, "oops\n");
  ProgramResult slow = run_program("sleep 20", "", 0.3);
  EXPECT_TRUE(slow.timed_out);
  // A program that exits without reading its input does not kill the caller (SIGPIPE).
  ProgramResult early = run_program("true", std::string(1 << 20, 'y'), 10);
  EXPECT_EQ(early.exit_code, 0);
}

}  // namespace prefer
