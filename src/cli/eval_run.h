// The work of `prefer eval`, shared with `prefer sweep`: its options (all but the models and the output
// folder, which each command names its own way), their checks, and the run that writes eval.json,
// samples.jsonl and samples.html and prints the summary.
#pragma once

#include <CLI/CLI.hpp>

#include <filesystem>
#include <memory>
#include <string>

#include "cli/data_options.h"
#include "cli/prompt_file.h"
#include "cli/quantization_options.h"
#include "eval/judge.h"
#include "util/json.h"

namespace prefer::cli {

struct EvalOptions {
  // The models and the output folder: set by the command (eval, sweep), not by add_eval_options.
  std::string model, adapter, reference, output_dir;
  std::string data, prompts, capability, perplexity_data;
  std::string judge, judge_model, judge_template, judge_mode = "pairwise";
  double beta = 0.1, rm_tie_margin = 0.0, max_regression = 0.02, command_timeout = 600, judge_timeout = 120;
  int64_t batch_size = 8, inspect = 0, judge_concurrency = 4, judge_retries = 3;
  SamplingFlags sampling;
  bool reference_free = false, mc_normalize = false, no_judge_cache = false, bf16 = false;
  QuantizationFlags quant;  // the evaluated model and reference load quantised
  DataFlags flags;
};

// Registers every evaluation option but --model, --adapter, --reference and --output_dir.
void add_eval_options(CLI::App* cmd, EvalOptions& o);

// The judge's options (--judge, --judge_model, --judge_template, --rm_tie_margin, --judge_concurrency,
// --judge_retries, --judge_timeout, --command_timeout, --judge_mode, --no_judge_cache): part of
// add_eval_options, and of the data commands that judge (prefer data synth, prefer data judge).
void add_judge_options(CLI::App* cmd, EvalOptions& o);

// The rules between options (something to evaluate, a judge for prompts, a reference where needed).
void check_eval_options(const EvalOptions& o);

// The judge o.judge names (rm:DIR, http:URL or http, cmd:PROGRAM); `work_dir` holds a reward-model
// judge's scratch files.
std::unique_ptr<eval::Judge> make_judge(const EvalOptions& o, const std::filesystem::path& work_dir);

// Evaluates o.model against o.reference into `out_dir`; prints the summary; returns eval.json's object.
Json run_eval(const EvalOptions& o, const std::filesystem::path& out_dir);

}  // namespace prefer::cli
