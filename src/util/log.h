// Logging through spdlog: one logger to stderr, so stdout stays clean for data (JSON reports, ids).
#pragma once

#include <spdlog/spdlog.h>

#include <string_view>

namespace prefer {

// Installs the stderr logger and sets the level: "trace", "debug", "info", "warn", "error", "off".
// Throws prefer::Error for an unknown level name, listing the valid ones.
void init_logging(std::string_view level = "info");

}  // namespace prefer
