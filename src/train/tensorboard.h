// The run's TensorBoard log: every metrics.jsonl row also becomes scalars in an
// `events.out.tfevents.*` file in the run folder, tagged as transformers' TensorBoardCallback tags them
// (`rewrite_logs`): "eval_x" -> "eval/x", "test_x" -> "test/x", anything else "x" -> "train/x"
// ("loss" -> "train/loss", "rewards/margins" -> "train/rewards/margins", "epoch" -> "train/epoch").
// `tensorboard --logdir runs/` then shows the same curves as a TRL run.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "io/tfevents.h"
#include "util/json.h"

namespace prefer::train {

// transformers' rewrite_logs for one key.
std::string tensorboard_tag(std::string_view key);

class TensorBoardLog {
 public:
  // Starts a new event file in `run_dir`. When resuming from a checkpoint at `resume_step`, the file
  // begins with a purge marker at resume_step + 1, so TensorBoard hides what the interrupted run logged
  // after its checkpoint (the same rows metrics.jsonl drops).
  TensorBoardLog(const std::filesystem::path& run_dir, std::optional<int64_t> resume_step,
                 std::function<double()> clock = {});

  // Writes every numeric value of `row` except "step" (booleans and strings are skipped; non-finite
  // numbers are written: TensorBoard shows NaN) at the row's "step".
  void log(const OrderedJson& row);
  void log(const Json& row);

  const std::filesystem::path& path() const { return writer_.path(); }

 private:
  template <class J>
  void log_row(const J& row);

  io::TfEventsWriter writer_;
};

}  // namespace prefer::train
