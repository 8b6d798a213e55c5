// What every training loop (the Trainer, the PPO loop) does around its steps: stop cleanly on SIGINT /
// SIGTERM, keep at most save_total_limit checkpoints, and refuse to resume a checkpoint made with another
// model, data or options.
#pragma once

#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "util/json.h"

namespace prefer::train {

// SIGINT / SIGTERM handlers for a scope: the first signal asks the loop to stop after its current step
// (received() turns non-zero), a second one stops the process at once. The previous handlers come back
// at the end of the scope.
class StopSignals {
 public:
  StopSignals();
  ~StopSignals();
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;
  int received() const;

 private:
  void (*old_int_)(int);
  void (*old_term_)(int);
};

// Removes the oldest checkpoint-N folders of `output_dir` so that at most `limit` remain (0 = keep all).
void prune_checkpoints(const std::filesystem::path& output_dir, int64_t limit);

// The fingerprint keys whose values differ between a checkpoint and this run.
std::vector<std::string> fingerprint_changes(const Json& saved, const Json& now);

// Throws unless `now` equals the checkpoint's fingerprint (or `ignore` is set): the error names the
// differing keys and how to resume (`command` --config <output_dir>/config.yaml).
void check_resume_fingerprint(const Json& saved, const Json& now, bool ignore, const std::filesystem::path& checkpoint,
                              const std::string& command, const std::filesystem::path& output_dir);

// Data parallel: the signal a rank stops with, from the step's all-reduce of "received one" flags and
// signal numbers. A rank the signal reached after its own check takes the others' (0: nobody got one).
inline int agreed_signal(int own, double ranks_signalled, double signal_sum) {
  if (ranks_signalled <= 0) return 0;
  return own != 0 ? own : static_cast<int>(std::lround(signal_sum / ranks_signalled));
}

// The message of a run stopped by `sig` after `step` of `total` with its checkpoint, and how to resume.
std::string interrupted_message(int sig, int64_t step, int64_t total, const std::filesystem::path& checkpoint,
                                const std::string& command, const std::filesystem::path& output_dir);

}  // namespace prefer::train
