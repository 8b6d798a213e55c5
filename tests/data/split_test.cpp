// Train/test splits: exact counts (scikit-learn's rounding for the total, largest remainders per
// group), every row in exactly one set, the same split for the same seed.
#include "data/split.h"
#include "test_util.h"

#include <algorithm>
#include <map>

namespace prefer::data {

namespace {

std::vector<std::string> topics(size_t a, size_t b, size_t c) {
  std::vector<std::string> out;
  out.insert(out.end(), a, "math");
  out.insert(out.end(), b, "code");
  out.insert(out.end(), c, "chat");
  // Interleave so groups are not contiguous in the file.
  std::vector<std::string> mixed;
  for (size_t i = 0; i < out.size(); ++i) mixed.push_back(out[(i * 37) % out.size()]);
  return mixed;
}

}  // namespace

TEST(Split, StratifiedCountsFollowEachGroupsShare) {
  std::vector<std::string> g = topics(50, 30, 20);
  Split s = split_rows(g, {.test_size = 0.1, .seed = 3});
  EXPECT_EQ(s.test.size(), 10u);
  EXPECT_EQ(s.train.size(), 90u);
  std::map<std::string, size_t> held;
  for (size_t i : s.test) ++held[g[i]];
  EXPECT_EQ(held["math"], 5u);
  EXPECT_EQ(held["code"], 3u);
  EXPECT_EQ(held["chat"], 2u);
  std::vector<int> seen(g.size(), 0);
  for (size_t i : s.train) ++seen[i];
  for (size_t i : s.test) ++seen[i];
  for (int k : seen) EXPECT_EQ(k, 1);
  EXPECT_TRUE(std::is_sorted(s.test.begin(), s.test.end()));
}

TEST(Split, LargestRemaindersKeepTheTotalExact) {
  // 7 test rows of 3 equal groups of 10: shares 2.33 each, so two get 2 and one gets 3.
  Split s = split_rows(topics(10, 10, 10), {.test_size = 7, .seed = 1});
  EXPECT_EQ(s.test.size(), 7u);
  size_t sum = 0;
  for (const auto& gr : s.groups) {
    EXPECT_TRUE(gr.test == 2 || gr.test == 3) << gr.name;
    sum += gr.test;
  }
  EXPECT_EQ(sum, 7u);
  // A fraction rounds up, as scikit-learn's train_test_split: 0.25 of 30 is 7.5, so 8.
  EXPECT_EQ(split_rows(topics(10, 10, 10), {.test_size = 0.25}).test.size(), 8u);
}

TEST(Split, SameSeedSameSplitOtherSeedAnother) {
  std::vector<std::string> plain(200, "");
  Split a = split_rows(plain, {.test_size = 0.2, .seed = 11});
  Split b = split_rows(plain, {.test_size = 0.2, .seed = 11});
  Split c = split_rows(plain, {.test_size = 0.2, .seed = 12});
  EXPECT_EQ(a.test, b.test);
  EXPECT_NE(a.test, c.test);
  EXPECT_EQ(a.test.size(), 40u);
}

TEST(Split, EmptySetsAreErrors) {
  std::vector<std::string> three(3, "");
  EXPECT_ERROR_WITH(split_rows(three, {.test_size = 3}), "test_size", "no training rows");
  EXPECT_ERROR_WITH(split_rows(three, {.test_size = 1.5}), "test_size", "whole number");
  EXPECT_EQ(split_rows(three, {.test_size = 0.01}).test.size(), 1u);  // rounds up to one row
}

}  // namespace prefer::data
