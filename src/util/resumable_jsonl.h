// A JSONL output that a killed run continues: lines go to `<final>.partial` a unit of work at a time
// (say, a chunk of prompts), and after each unit `<final>.progress.json` records, atomically, how many
// units are done, the partial file's length at that point, the caller's counters and a fingerprint of
// the options that make the output. A restart with the same fingerprint truncates the partial file to the
// recorded length (dropping a half-written line or an unrecorded unit) and continues after the last
// recorded unit; finish() renames the partial file onto the final name, so a file under the final name
// is always complete. A different fingerprint is an error (the output would mix two runs).
#pragma once

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>

#include "util/json.h"

namespace prefer {

class ResumableJsonl {
 public:
  // `fingerprint`: what must be equal for a restart to continue (options, input hashes), any JSON.
  ResumableJsonl(std::filesystem::path final_path, Json fingerprint);
  ~ResumableJsonl();
  ResumableJsonl(const ResumableJsonl&) = delete;
  ResumableJsonl& operator=(const ResumableJsonl&) = delete;

  // Units recorded by an earlier run (0 on a fresh start) and that run's counters ({} on a fresh start).
  int64_t units_done() const { return units_; }
  const Json& counters() const { return counters_; }
  bool resumed() const { return resumed_; }

  // Appends `lines` (each a complete JSONL line, newline included), fsyncs, then records `units_done`
  // and `counters`.
  void commit_unit(const std::string& lines, int64_t units_done, const Json& counters);
  // Renames the partial file onto the final name and removes the progress file.
  void finish();

  const std::filesystem::path& partial_path() const { return partial_; }
  const std::filesystem::path& progress_path() const { return progress_; }

 private:
  std::filesystem::path final_, partial_, progress_;
  Json fingerprint_, counters_ = Json::object();
  int64_t units_ = 0;
  uint64_t bytes_ = 0;
  bool resumed_ = false;
  std::FILE* f_ = nullptr;
};

}  // namespace prefer
