// The win rate's core, shared by prefer eval and the judged evaluation during training: every prompt is
// judged twice, the model's answer first as A and then as B, through the verdict cache, and the two
// verdicts become one outcome (win_rate.h's rule) and the summary.
#pragma once

#include <string>
#include <vector>

#include "eval/judge.h"
#include "eval/judge_cache.h"
#include "eval/win_rate.h"

namespace prefer::eval {

struct Matchup {
  OrderedJson prompt;    // as in the prompts file
  std::string question;  // what a text judge reads
  std::string model_answer, reference_answer;
};

struct PositionSwapResult {
  std::vector<Verdict> model_first, model_second;  // per prompt
  std::vector<Outcome> outcomes;
  WinRate summary;
};

PositionSwapResult judge_position_swapped(Judge& judge, JudgeCache& cache, const std::vector<Matchup>& matchups);

}  // namespace prefer::eval
