#include "train/run_logs.h"

#include <iostream>

namespace prefer::train {

RunLogs::RunLogs(const std::filesystem::path& out_dir, std::optional<int64_t> resume_step, int64_t total_steps,
                 const std::function<std::vector<MonitorRule>(int64_t)>& rules, const std::vector<TrainingWarning>& preflight,
                 TrainResult& result, bool write)
    : warnings_path_(out_dir / "warnings.jsonl"), result_(result) {
  if (write) {
    metrics_.emplace(out_dir, resume_step);
    warnings_.emplace(out_dir, resume_step);
    tensorboard_.emplace(out_dir, resume_step);
  }
  if (rules) {
    monitor_.emplace(total_steps, rules(total_steps));
    if (resume_step) monitor_->restore(read_metrics(out_dir / "metrics.jsonl"), read_warnings(warnings_path_));
  }
  if (!resume_step)
    for (const auto& w : preflight) {
      warn(w);
      if (monitor_) monitor_->mark_fired(w.id);
    }
}

void RunLogs::warn(const TrainingWarning& w) {
  result_.warnings.push_back(w);
  if (!warnings_) return;
  warnings_->log(w);
  std::cerr << "warning: " << w.message << "\n";
}

Json RunLogs::log(const OrderedJson& row) {
  if (metrics_) metrics_->log(row);
  if (tensorboard_) tensorboard_->log(row);
  Json plain = Json::parse(row.dump());
  result_.log.push_back(plain);
  if (monitor_)
    for (const auto& w : monitor_->observe(plain)) {
      warn(w);
      fatal_ = fatal_ || w.fatal;
    }
  return plain;
}

void RunLogs::finish() {
  if (monitor_)
    for (const auto& w : monitor_->finish()) warn(w);
}

}  // namespace prefer::train
