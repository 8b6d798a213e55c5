// `prefer data validate`: the pre-flight checklist for a preference dataset, as one report.
//
// Record checks (every bad record, up to a limit, with file:line:field): valid JSON and UTF-8, the
// fields the format needs, non-empty strings or valid message lists, chosen != rejected.
// Dataset checks: size, duplicates and near-duplicates, prompts with contradictory pairs, token lengths
// against max_length / max_prompt_length (what would be truncated or dropped), length bias, whether
// prompts look like the model's chat format, double BOS/EOS, the pad token, the train/eval split.
#pragma once

#include <filesystem>
#include <string>

#include "data/pipeline.h"
#include "util/json.h"

namespace prefer::data {

struct ValidateOptions {
  PrepareOptions prepare;     // read.collect_errors is forced on
  double eval_split = 0.0;    // fraction held out for evaluation
  int64_t min_pairs = 1000;   // fewer is a warning (the seed's minimum)
  int64_t show = 0;           // examples to render for --show
};

// The report as JSON: {"file", "model", "kind", "style", "records", "valid", "errors": [...],
// "warnings": [{"check", "message"}], "checks": {...}, "show": [...], "exit_code"}. exit_code is 0 (no
// errors) or 1 (errors); a file that cannot be read at all throws (the command maps it to 2).
Json validate_dataset(const std::filesystem::path& file, const TextModel& model, const ValidateOptions& options);

// The same report as text for a terminal.
std::string format_validation_report(const Json& report);

}  // namespace prefer::data
