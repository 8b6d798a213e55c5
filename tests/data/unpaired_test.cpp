// Pairs split into KTO examples, and KTO's mismatched KL rows (a rotation by one inside each block).
#include "data/unpaired.h"

#include <gtest/gtest.h>

#include "test_util.h"

namespace prefer::data {
namespace {

TokenizedExample pair(int64_t line, std::vector<int32_t> p, std::vector<int32_t> c, std::vector<int32_t> r) {
  TokenizedExample ex;
  ex.line = line;
  ex.prompt_ids = std::move(p);
  ex.chosen.completion_ids = std::move(c);
  ex.rejected.completion_ids = std::move(r);
  ex.paired = true;
  return ex;
}

std::vector<int32_t> ids(std::span<const int32_t> s) { return {s.begin(), s.end()}; }

TEST(Unpaired, PairsBecomeADesirableAndAnUndesirableExample) {
  TokenizedDataset d;
  d.add(pair(3, {1, 2}, {10, 11}, {20}));
  d.add(pair(4, {1, 3}, {12}, {21, 22, 23}));
  TokenizedDataset u = unpair(d);
  ASSERT_EQ(u.size(), 4u);
  EXPECT_EQ(ids(u.chosen(0)), (std::vector<int32_t>{10, 11}));
  EXPECT_EQ(u.row(0).label, 1);
  EXPECT_EQ(ids(u.chosen(1)), (std::vector<int32_t>{20}));
  EXPECT_EQ(u.row(1).label, 0);
  EXPECT_EQ(ids(u.prompt(3)), (std::vector<int32_t>{1, 3}));
  EXPECT_EQ(u.row(3).line, 4);
  EXPECT_FALSE(u.row(2).paired);
}

TEST(Unpaired, KlRowsRotateCompletionsInsideEachBlock) {
  TokenizedDataset d;
  for (int32_t i = 0; i < 5; ++i) {
    TokenizedExample ex;
    ex.prompt_ids = {100 + i};
    ex.chosen.completion_ids = std::vector<int32_t>(static_cast<size_t>(i + 1), i);  // i+1 copies of i
    ex.label = i % 2 == 0;
    d.add(ex);
  }
  TokenizedDataset kl = mismatched_rows(d, {{3, 1, 4}, {0, 2}}, /*max_length=*/4);
  // Block [3, 1, 4]: 3 gets 4's completion (cut to 4 - 1 = 3 tokens), 1 gets 3's, 4 gets 1's.
  EXPECT_EQ(ids(kl.prompt(3)), std::vector<int32_t>{103});
  EXPECT_EQ(ids(kl.chosen(3)), (std::vector<int32_t>{4, 4, 4}));
  EXPECT_TRUE(kl.row(3).truncated);
  EXPECT_EQ(ids(kl.chosen(1)), (std::vector<int32_t>{3, 3, 3}));
  EXPECT_EQ(ids(kl.chosen(4)), (std::vector<int32_t>{1, 1}));
  EXPECT_EQ(ids(kl.chosen(0)), (std::vector<int32_t>{2, 2, 2}));
  EXPECT_EQ(ids(kl.chosen(2)), (std::vector<int32_t>{0}));
  EXPECT_EQ(kl.row(0).label, 1);
  EXPECT_ERROR_WITH(mismatched_rows(d, {{0}}, 0), "a block of one example");
}

}  // namespace
}  // namespace prefer::data
