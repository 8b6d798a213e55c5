#include "eval/position_swap.h"

namespace prefer::eval {

PositionSwapResult judge_position_swapped(Judge& judge, JudgeCache& cache, const std::vector<Matchup>& matchups) {
  std::vector<JudgeItem> items;
  for (const auto& m : matchups) {
    items.push_back({m.prompt, m.question, m.model_answer, m.reference_answer});
    items.push_back({m.prompt, m.question, m.reference_answer, m.model_answer});
  }
  std::vector<Verdict> v = judge_cached(judge, cache, items);
  PositionSwapResult r;
  std::vector<double> len_m, len_r;
  for (size_t i = 0; i < matchups.size(); ++i) {
    r.model_first.push_back(v[2 * i]);
    r.model_second.push_back(v[2 * i + 1]);
    r.outcomes.push_back(combine(v[2 * i], v[2 * i + 1]));
    len_m.push_back(static_cast<double>(matchups[i].model_answer.size()));
    len_r.push_back(static_cast<double>(matchups[i].reference_answer.size()));
  }
  r.summary = summarize(r.outcomes, len_m, len_r);
  return r;
}

}  // namespace prefer::eval
