// The run folder's JSONL logs:
//   metrics.jsonl   one object per logging step, transformers' log-history keys and order:
//                   {"loss": .., "grad_norm": .., "learning_rate": .., "rewards/chosen": .., ..., "epoch": ..,
//                    "step": ..}; evaluation rows carry "eval_"-prefixed keys ({"eval_loss": .., ...}).
//   warnings.jsonl  one TrainingWarning per line (training_warning.h).
// Every row is written with one write() on a file opened for appending, so it reaches the OS before
// log() returns and a killed run leaves at most a torn last line.
//
// Resume: opening with a resume step S first rewrites the file (atomically) with only the rows whose
// "step" is <= S, dropping what an interrupted run logged after its last checkpoint; a torn last line is
// dropped too. The resumed run then appends, so its file equals that of an uninterrupted run.
//
// JSON has no NaN or Infinity: non-finite numbers are written as null (as nlohmann::json and JSON.stringify
// do), and read back as NaN.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "train/training_warning.h"
#include "util/json.h"

namespace prefer::train {

// An append-only JSONL file of rows that each carry an integer "step".
class JsonlLog {
 public:
  // resume_step empty: a new run, an existing file is replaced by an empty one. Set: rows with
  // step > *resume_step are dropped (see above). A malformed row before the last line, or one without an
  // integer "step", throws prefer::Error naming the file and line.
  JsonlLog(std::filesystem::path path, std::optional<int64_t> resume_step);
  ~JsonlLog();
  JsonlLog(const JsonlLog&) = delete;
  JsonlLog& operator=(const JsonlLog&) = delete;

  // Appends `row` (an object with an integer "step") as one line.
  void append(const OrderedJson& row);
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
  int fd_ = -1;
};

// A logged row as numbers: what the monitor and reports read. Non-numeric values are left out; null is NaN.
struct MetricRow {
  int64_t step = 0;
  std::map<std::string, double> values;  // every numeric key but "step" ("epoch" included)

  bool has(const std::string& key) const { return values.count(key) > 0; }
  double at(const std::string& key) const { return values.at(key); }
  // True for evaluation rows (any key starting with "eval_").
  bool is_eval() const;
};

// `j` must be an object with an integer "step"; `ctx` names file and line in errors.
MetricRow metric_row_from_json(const Json& j, const ErrorContext& ctx = {});

// A metrics.jsonl row in transformers' key order: `values` in the given order, then "epoch", then "step".
OrderedJson make_log_row(int64_t step, double epoch, const std::vector<std::pair<std::string, double>>& values);

// metrics.jsonl of a run folder.
class MetricsLog {
 public:
  MetricsLog(const std::filesystem::path& run_dir, std::optional<int64_t> resume_step)
      : log_(run_dir / "metrics.jsonl", resume_step) {}
  void log(const OrderedJson& row) { log_.append(row); }
  const std::filesystem::path& path() const { return log_.path(); }

 private:
  JsonlLog log_;
};

// warnings.jsonl of a run folder.
class WarningsLog {
 public:
  WarningsLog(const std::filesystem::path& run_dir, std::optional<int64_t> resume_step)
      : log_(run_dir / "warnings.jsonl", resume_step) {}
  void log(const TrainingWarning& w) { log_.append(w.to_json()); }
  const std::filesystem::path& path() const { return log_.path(); }

 private:
  JsonlLog log_;
};

// Every row of a metrics.jsonl (a torn last line is ignored); empty when the file does not exist.
std::vector<MetricRow> read_metrics(const std::filesystem::path& path);
// Every warning of a warnings.jsonl (a torn last line is ignored); empty when the file does not exist.
std::vector<TrainingWarning> read_warnings(const std::filesystem::path& path);

}  // namespace prefer::train
