// What prefer eval leaves behind: eval.json (every number, settings and data hashes), samples.jsonl
// (one line per judged prompt) and samples.html (the first N prompts with both answers side by side, for
// a person), and the summary printed at the end.
#pragma once

#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "util/json.h"

namespace prefer::cli {

struct SampleRow {
  OrderedJson prompt;
  std::string question, completion_model, completion_reference, verdict_ab, verdict_ba, outcome;
  double score_model = std::nan(""), score_reference = std::nan("");  // --judge_mode single
};

// Writes the files atomically (eval.json last, so its presence means the rest is complete).
void write_eval_outputs(const std::filesystem::path& dir, const Json& result, const std::vector<SampleRow>& samples, int64_t inspect);

// The page for a person: a self-contained HTML file (no scripts, no outside resources).
std::string samples_html(const std::vector<SampleRow>& samples, int64_t n, const Json& result);

// The printed summary: one line per number that was computed.
std::string eval_summary(const Json& result);

}  // namespace prefer::cli
