#include "data/best_of_n.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "util/error.h"

namespace prefer::data {

PairSelection select_pairs(const std::vector<std::string>& texts, const std::vector<double>& scores, double min_gap) {
  if (texts.size() != scores.size()) throw Error("select_pairs: one score per candidate");
  std::vector<size_t> usable;
  std::set<std::string> seen;
  for (size_t i = 0; i < texts.size(); ++i)
    if (!std::isnan(scores[i]) && !texts[i].empty() && seen.insert(texts[i]).second) usable.push_back(i);
  PairSelection s;
  if (usable.size() < 2) {
    s.dropped = "too_few_candidates";
    return s;
  }
  if (min_gap <= 0) {
    size_t best = usable[0], worst = usable[0];
    for (size_t i : usable) {
      if (scores[i] > scores[best]) best = i;
      if (scores[i] < scores[worst]) worst = i;
    }
    if (scores[best] == scores[worst]) s.dropped = "equal_scores";
    else s.pairs.push_back({best, worst});
    return s;
  }
  std::vector<size_t> high = usable, low = usable;
  std::stable_sort(high.begin(), high.end(), [&](size_t a, size_t b) { return scores[a] > scores[b]; });
  std::stable_sort(low.begin(), low.end(), [&](size_t a, size_t b) { return scores[a] < scores[b]; });
  bool any_gap = false;
  for (size_t i : high)
    for (size_t j : low) {
      if (scores[i] > scores[j]) any_gap = true;
      if (scores[i] - scores[j] >= min_gap) s.pairs.push_back({i, j});
    }
  if (s.pairs.empty()) s.dropped = any_gap ? "below_min_gap" : "equal_scores";
  return s;
}

}  // namespace prefer::data
