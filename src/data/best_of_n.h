// Which candidates of one prompt become preference pairs (best-of-N / rejection sampling). Candidates
// with a NaN score or an empty text are left out; texts that repeat count once (the first keeps its index).
//   min_gap <= 0: the best (highest score, the first on ties) as chosen and the worst (lowest, the first
//                 on ties) as rejected; no pair when they score the same.
//   min_gap > 0:  every pair (i, j) of different texts with score_i - score_j >= min_gap, i before j in
//                 the order (score descending, index ascending) for i and (score ascending, index
//                 ascending) for j.
#pragma once

#include <string>
#include <vector>

namespace prefer::data {

struct CandidatePair {
  size_t chosen = 0, rejected = 0;  // candidate indices
};

struct PairSelection {
  std::vector<CandidatePair> pairs;
  // Why there is no pair: "too_few_candidates" (fewer than two scored, distinct, non-empty texts),
  // "equal_scores", "below_min_gap"; empty when pairs were made.
  std::string dropped;
};

PairSelection select_pairs(const std::vector<std::string>& texts, const std::vector<double>& scores, double min_gap);

}  // namespace prefer::data
