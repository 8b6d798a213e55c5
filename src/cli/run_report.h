// report.html: what a person reads instead of metrics.jsonl. One self-contained file (inline CSS and
// SVG, no script, nothing fetched) for one run or several side by side (a beta sweep, LoRA against
// full): the curves with train and eval overlaid and the warnings marked where they fired, the
// healthy-run checks with a verdict each, the warnings' texts, throughput, the config, and the results
// of `prefer eval` when the run folder has them (eval/eval.json, eval/samples.jsonl).
//
// Works on any run folder: finished (final/), interrupted or still running (a metrics.jsonl line
// being written is skipped).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace prefer::cli {

// The HTML. Throws prefer::Error naming a folder that is not a run (no metrics.jsonl nor config.yaml).
std::string run_report_html(const std::vector<std::filesystem::path>& runs);

// Writes the report atomically to `output`.
void write_run_report(const std::vector<std::filesystem::path>& runs, const std::filesystem::path& output);

}  // namespace prefer::cli
