// The judged win rate during training: with --eval_prompts and --judge, every evaluation has the policy
// answer the prompts (greedy, eval mode) and a judge compare each answer with the starting model's, both
// orders, as prefer eval does. Logged as eval_win_rate, eval_tie_rate, eval_loss_rate,
// eval_adjusted_win_rate, eval_length_controlled_win_rate, eval_judge_errors, so
// `--metric_for_best_model eval_win_rate` can keep the best model. The starting model's answers are made
// once, before the first step, and kept in the run folder (eval_prompts_reference.jsonl) for a resumed run.
#pragma once

#include <filesystem>
#include <functional>
#include <ostream>

#include "data/pipeline.h"
#include "model/causal_lm.h"
#include "util/json.h"

namespace prefer::cli {

// An empty function when the options hold no eval_prompts. Throws on a missing judge or a bad prompts file
// before training starts.
std::function<Json()> make_judged_eval(const Json& options, model::CausalLM& policy, const data::TextModel& text,
                                       const std::filesystem::path& run_dir, std::ostream& out);

}  // namespace prefer::cli
