// The logs and the monitor of a training loop's run folder (the Trainer's and the online loop's):
// metrics.jsonl, warnings.jsonl and TensorBoard (a resumed run drops what came after its step), the
// monitor with the command's rules (its history restored on resume), and the pre-flight warnings
// (written once, when a new run starts). In data-parallel runs only rank 0 writes (`write`); every rank
// runs the monitor on the same reduced rows, so all of them stop together on a fatal warning.
#pragma once

#include <filesystem>
#include <functional>
#include <optional>
#include <vector>

#include "train/metrics_log.h"
#include "train/monitor.h"
#include "train/tensorboard.h"
#include "train/trainer.h"

namespace prefer::train {

class RunLogs {
 public:
  RunLogs(const std::filesystem::path& out_dir, std::optional<int64_t> resume_step, int64_t total_steps,
          const std::function<std::vector<MonitorRule>(int64_t)>& rules, const std::vector<TrainingWarning>& preflight, TrainResult& result,
          bool write = true);
  // Writes a warning to warnings.jsonl, the result and stderr.
  void warn(const TrainingWarning& w);
  // Logs a row (metrics.jsonl, TensorBoard, the result's log) and runs the monitor on it; returns the
  // row as Json. A fatal warning sets fatal().
  Json log(const OrderedJson& row);
  // The monitor's end-of-training checks.
  void finish();
  bool fatal() const { return fatal_; }
  const std::filesystem::path& warnings_path() const { return warnings_path_; }

 private:
  std::filesystem::path warnings_path_;
  std::optional<MetricsLog> metrics_;
  std::optional<WarningsLog> warnings_;
  std::optional<TensorBoardLog> tensorboard_;
  std::optional<TrainingMonitor> monitor_;
  TrainResult& result_;
  bool fatal_ = false;
};

}  // namespace prefer::train
