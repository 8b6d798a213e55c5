// Train/test splits: a seeded random split, stratified by a column when given, so that each group
// (topic, source...) is held out in proportion to its size (the seed's checklist: "train/eval split
// is random and stratified if you have topic categories").
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace prefer::data {

struct SplitOptions {
  double test_size = 0.1;  // below 1: a fraction of the rows (rounded up, as scikit-learn); else a count
  uint64_t seed = 42;
};

struct Split {
  std::vector<size_t> train, test;  // row indices, each in file order
  // Per group (sorted by name; one group "" when not stratified): rows, and how many went to test.
  struct Group {
    std::string name;
    size_t rows = 0, test = 0;
  };
  std::vector<Group> groups;
};

// Splits rows 0..groups.size()-1; `groups[i]` is row i's group ("" for all when not stratified).
// The test count per group is its share of the total test count by largest remainders, so the total
// is exact; which rows go is a seeded shuffle within each group (the same on every platform).
// An Error when the test or the train set would be empty.
Split split_rows(const std::vector<std::string>& groups, const SplitOptions& options);

}  // namespace prefer::data
