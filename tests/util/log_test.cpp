#include "util/log.h"

#include "test_util.h"

namespace prefer {

TEST(Log, SetsLevelsAndRejectsUnknownNames) {
  init_logging("warn");
  EXPECT_EQ(spdlog::get_level(), spdlog::level::warn);
  init_logging("debug");
  EXPECT_EQ(spdlog::get_level(), spdlog::level::debug);
  EXPECT_ERROR_WITH(init_logging("verbose"), "unknown log level 'verbose'", "trace, debug, info");
  init_logging("info");
}

}  // namespace prefer
