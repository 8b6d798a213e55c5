#include "util/log.h"

#include <spdlog/sinks/stdout_color_sinks.h>

#include "util/error.h"

namespace prefer {

void init_logging(std::string_view level) {
  static const std::pair<std::string_view, spdlog::level::level_enum> levels[] = {
      {"trace", spdlog::level::trace}, {"debug", spdlog::level::debug}, {"info", spdlog::level::info},
      {"warn", spdlog::level::warn},   {"error", spdlog::level::err},   {"off", spdlog::level::off}};
  for (const auto& [name, lvl] : levels) {
    if (name == level) {
      auto logger = spdlog::get("prefer");
      if (!logger) {
        logger = spdlog::stderr_color_mt("prefer");
        logger->set_pattern("[%H:%M:%S] %^%l%$ %v");
        spdlog::set_default_logger(logger);
      }
      logger->set_level(lvl);
      return;
    }
  }
  throw Error("unknown log level '" + std::string(level) + "'",
              {.field = "log_level", .hint = "use one of trace, debug, info, warn, error, off"});
}

}  // namespace prefer
