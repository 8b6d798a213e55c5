// What every command shares (command.h): the boolean option rule, the global options and the path of
// the running executable. In the library, not in main.cpp, because the commands' own files call them.
#include "cli/command.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "model/runtime.h"
#include "util/error.h"
#include "util/log.h"

namespace prefer::cli {

CLI::Option* add_bool_option(CLI::App* cmd, const std::string& name, bool& target, const std::string& help) {
  const std::string flag = name.rfind("--", 0) == 0 ? name.substr(2) : name;
  auto set = [&target, flag](const std::vector<std::string>& v) {
    const std::string s = v.empty() ? "" : v.back();
    if (s.empty() || s == "true" || s == "True" || s == "1" || s == "yes") target = true;
    else if (s == "false" || s == "False" || s == "0" || s == "no") target = false;
    else throw prefer::Error("expected true or false, found '" + s + "'", {.field = flag});
  };
  return cmd->add_option_function<std::vector<std::string>>("--" + flag, set, help)->expected(0, 1)->type_name("[BOOL]")->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
}

void apply_global_options(const GlobalOptions& g) {
  init_logging(g.log_level);
  // Several workers on one machine share its cores unless --threads says otherwise.
  int threads = g.threads;
  if (threads == 0)
    if (const char* lw = std::getenv("LOCAL_WORLD_SIZE"); lw != nullptr && std::atoi(lw) > 1)
      threads = std::max(1, static_cast<int>(std::thread::hardware_concurrency()) / std::atoi(lw));
  model::set_num_threads(threads);
}

std::string self_executable() {
  std::error_code ec;
  const std::filesystem::path p = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) throw Error("cannot find the prefer executable (/proc/self/exe)");
  return p.string();
}

}  // namespace prefer::cli
