#include "data/best_of_n.h"

#include <cmath>

#include "test_util.h"

namespace prefer::data {

TEST(BestOfN, BestAndWorstFirstOnTiesNaNAndEmptyLeftOut) {
  const double nan = std::nan("");
  // Scores 3, 5, 5, 1, nan; the empty text scores highest but is never a candidate.
  PairSelection s = select_pairs({"a", "b", "c", "d", "e", ""}, {3, 5, 5, 1, nan, 9}, 0);
  ASSERT_EQ(s.pairs.size(), 1u);
  EXPECT_EQ(s.pairs[0].chosen, 1u);
  EXPECT_EQ(s.pairs[0].rejected, 3u);
  EXPECT_EQ(s.dropped, "");
  EXPECT_EQ(select_pairs({"a", "b"}, {2, 2}, 0).dropped, "equal_scores");
  EXPECT_EQ(select_pairs({"a", "a"}, {1, 2}, 0).dropped, "too_few_candidates") << "the same text twice is one candidate";
  EXPECT_EQ(select_pairs({"a", "b"}, {1, nan}, 0).dropped, "too_few_candidates");
}

TEST(BestOfN, EveryPairAtLeastMinGapApart) {
  // Scores a 4, b 1, c 3, d 2. Gap 2: (a, b), (a, d), (c, b) in that order (chosen by score descending,
  // then rejected by score ascending). Gap 1: all 6 pairs of different scores.
  PairSelection g2 = select_pairs({"a", "b", "c", "d"}, {4, 1, 3, 2}, 2);
  ASSERT_EQ(g2.pairs.size(), 3u);
  EXPECT_EQ(g2.pairs[0].chosen, 0u);
  EXPECT_EQ(g2.pairs[0].rejected, 1u);
  EXPECT_EQ(g2.pairs[1].chosen, 0u);
  EXPECT_EQ(g2.pairs[1].rejected, 3u);
  EXPECT_EQ(g2.pairs[2].chosen, 2u);
  EXPECT_EQ(g2.pairs[2].rejected, 1u);
  PairSelection g1 = select_pairs({"a", "b", "c", "d"}, {4, 1, 3, 2}, 1);
  EXPECT_EQ(g1.pairs.size(), 6u);
  EXPECT_EQ(select_pairs({"a", "b"}, {1.5, 1}, 1).dropped, "below_min_gap");
  EXPECT_EQ(select_pairs({"a", "b"}, {1, 1}, 1).dropped, "equal_scores");
  EXPECT_ERROR_WITH(select_pairs({"a"}, {1, 2}, 0), "one score per candidate");
}

}  // namespace prefer::data
