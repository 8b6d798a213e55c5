// A whole tokenized dataset in flat arrays: every token of every example in one int32 buffer, and one
// row of offsets per example. The buffer is either owned or a view into a memory-mapped cache file
// (token_cache.h), so a cached dataset of any size opens without copying.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "data/tokenize.h"

namespace prefer::data {

class TokenizedDataset {
 public:
  struct Row {
    int64_t line = 0;
    int64_t prompt_off = 0, prompt_len = 0;
    int64_t chosen_off = 0, chosen_len = 0;
    int64_t rejected_off = 0, rejected_len = 0;  // 0 for single-completion data
    int32_t chosen_prompt_start = 0, rejected_prompt_start = 0;
    int8_t label = -1;  // -1 none, 0 undesirable, 1 desirable
    bool paired = false;
    bool truncated = false;
    double margin = 0;  // NaN when the example has none
  };

  TokenizedDataset() = default;
  void add(const TokenizedExample& ex);
  // Views `tokens` (kept alive by `owner`) with these rows: what the cache loader builds.
  static TokenizedDataset view(std::span<const int32_t> tokens, std::vector<Row> rows, std::shared_ptr<const void> owner);

  size_t size() const { return rows_.size(); }
  const Row& row(size_t i) const { return rows_[i]; }
  const std::vector<Row>& rows() const { return rows_; }
  std::span<const int32_t> tokens() const { return tokens_; }

  // The prompt as the chosen / rejected row sees it (keep_end truncation may drop its start).
  std::span<const int32_t> prompt(size_t i, bool rejected_side = false) const;
  std::span<const int32_t> chosen(size_t i) const;      // also: the completion of single-completion data
  std::span<const int32_t> rejected(size_t i) const;
  // A new (owned) dataset holding the given rows, in that order (train/eval splits).
  TokenizedDataset select(const std::vector<size_t>& rows) const;
  // The datasets one after another (several --data files), as a new owned dataset.
  static TokenizedDataset concat(const std::vector<const TokenizedDataset*>& parts);
  // Row i back as a TokenizedExample.
  TokenizedExample example(size_t i) const;
  // A content hash of every token and row (cache keys of values computed from this data).
  uint64_t content_hash() const;

  // Tokens of the longer of the example's rows (prompt + completion), for length grouping.
  int64_t max_row_length(size_t i) const;

 private:
  void sync_view();
  std::vector<int32_t> owned_;
  std::span<const int32_t> tokens_;
  std::shared_ptr<const void> owner_;
  std::vector<Row> rows_;
};

}  // namespace prefer::data
