#include "train/run_control.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <regex>

#include "util/error.h"
#include "util/strings.h"

namespace prefer::train {
namespace fs = std::filesystem;

namespace {
std::atomic<int> g_stop_signal{0};

extern "C" void on_stop_signal(int sig) {
  if (g_stop_signal.exchange(sig) != 0) {
    std::signal(sig, SIG_DFL);
    std::raise(sig);
  }
}
}  // namespace

StopSignals::StopSignals() {
  g_stop_signal = 0;
  old_int_ = std::signal(SIGINT, on_stop_signal);
  old_term_ = std::signal(SIGTERM, on_stop_signal);
}

StopSignals::~StopSignals() {
  std::signal(SIGINT, old_int_);
  std::signal(SIGTERM, old_term_);
}

int StopSignals::received() const { return g_stop_signal.load(); }

void prune_checkpoints(const fs::path& output_dir, int64_t limit) {
  if (limit <= 0) return;
  std::vector<std::pair<int64_t, fs::path>> all;
  static const std::regex re("checkpoint-([0-9]+)");
  for (const auto& e : fs::directory_iterator(output_dir)) {
    std::smatch m;
    std::string name = e.path().filename().string();
    if (e.is_directory() && std::regex_match(name, m, re)) all.push_back({std::stoll(m[1]), e.path()});
  }
  std::sort(all.begin(), all.end());
  for (size_t i = 0; i + static_cast<size_t>(limit) < all.size(); ++i) fs::remove_all(all[i].second);
}

std::vector<std::string> fingerprint_changes(const Json& saved, const Json& now) {
  std::vector<std::string> out;
  for (auto it = now.begin(); it != now.end(); ++it)
    if (!saved.contains(it.key()) || saved.at(it.key()) != it.value()) out.push_back(it.key());
  for (auto it = saved.begin(); it != saved.end(); ++it)
    if (!now.contains(it.key())) out.push_back(it.key());
  return out;
}

void check_resume_fingerprint(const Json& saved, const Json& now, bool ignore, const fs::path& checkpoint, const std::string& command,
                              const fs::path& output_dir) {
  std::vector<std::string> changed = fingerprint_changes(saved, now);
  if (changed.empty() || ignore) return;
  const std::string again = command + " --config " + (output_dir / "config.yaml").string();
  throw Error("this run's " + join(changed, ", ") + " differ from the checkpoint's (the checkpoint records what it was made with)",
              {.file = checkpoint.string(), .field = changed.front(),
               .hint = "resume with the same model, data and options (" + again + "), or pass --ignore_resume_mismatch if the change is meant"});
}

std::string interrupted_message(int sig, int64_t step, int64_t total, const fs::path& checkpoint, const std::string& command,
                                const fs::path& output_dir) {
  const std::string name = sig == SIGINT ? "SIGINT" : "SIGTERM";
  return fmt::format("{} received: stopped after step {} of {} and saved {}.\nresume with: {} --config {} --resume_from_checkpoint latest",
                     name, step, total, checkpoint.string(), command, (output_dir / "config.yaml").string());
}

}  // namespace prefer::train
