#include "data/tokenized_dataset.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "util/hash.h"

namespace prefer::data {

void TokenizedDataset::sync_view() { tokens_ = std::span<const int32_t>(owned_.data(), owned_.size()); }

void TokenizedDataset::add(const TokenizedExample& ex) {
  if (owner_) throw std::logic_error("cannot add to a memory-mapped dataset");
  Row r;
  r.line = ex.line;
  auto append = [&](const std::vector<int32_t>& ids, int64_t& off, int64_t& len) {
    off = static_cast<int64_t>(owned_.size());
    len = static_cast<int64_t>(ids.size());
    owned_.insert(owned_.end(), ids.begin(), ids.end());
  };
  append(ex.prompt_ids, r.prompt_off, r.prompt_len);
  append(ex.chosen.completion_ids, r.chosen_off, r.chosen_len);
  r.chosen_prompt_start = ex.chosen.prompt_start;
  r.paired = ex.paired;
  if (r.paired) {
    append(ex.rejected.completion_ids, r.rejected_off, r.rejected_len);
    r.rejected_prompt_start = ex.rejected.prompt_start;
  }
  r.truncated = ex.chosen.truncated || ex.rejected.truncated;
  r.label = ex.label ? (*ex.label ? 1 : 0) : -1;
  r.margin = ex.margin.value_or(std::numeric_limits<double>::quiet_NaN());
  rows_.push_back(r);
  sync_view();
}

TokenizedDataset TokenizedDataset::view(std::span<const int32_t> tokens, std::vector<Row> rows, std::shared_ptr<const void> owner) {
  TokenizedDataset d;
  d.tokens_ = tokens;
  d.rows_ = std::move(rows);
  d.owner_ = std::move(owner);
  return d;
}

std::span<const int32_t> TokenizedDataset::prompt(size_t i, bool rejected_side) const {
  const Row& r = rows_[i];
  int64_t start = rejected_side ? r.rejected_prompt_start : r.chosen_prompt_start;
  return tokens_.subspan(static_cast<size_t>(r.prompt_off + start), static_cast<size_t>(r.prompt_len - start));
}

std::span<const int32_t> TokenizedDataset::chosen(size_t i) const {
  const Row& r = rows_[i];
  return tokens_.subspan(static_cast<size_t>(r.chosen_off), static_cast<size_t>(r.chosen_len));
}

std::span<const int32_t> TokenizedDataset::rejected(size_t i) const {
  const Row& r = rows_[i];
  return tokens_.subspan(static_cast<size_t>(r.rejected_off), static_cast<size_t>(r.rejected_len));
}

TokenizedExample TokenizedDataset::example(size_t i) const {
  const Row& r = rows_.at(i);
  TokenizedExample ex;
  ex.line = r.line;
  ex.paired = r.paired;
  auto span_of = [&](int64_t off, int64_t len) {
    auto s = tokens_.subspan(static_cast<size_t>(off), static_cast<size_t>(len));
    return std::vector<int32_t>(s.begin(), s.end());
  };
  ex.prompt_ids = span_of(r.prompt_off, r.prompt_len);
  ex.chosen.completion_ids = span_of(r.chosen_off, r.chosen_len);
  ex.chosen.prompt_start = r.chosen_prompt_start;
  ex.chosen.truncated = r.truncated;
  if (r.paired) {
    ex.rejected.completion_ids = span_of(r.rejected_off, r.rejected_len);
    ex.rejected.prompt_start = r.rejected_prompt_start;
  }
  if (r.label >= 0) ex.label = r.label == 1;
  if (!std::isnan(r.margin)) ex.margin = r.margin;
  return ex;
}

TokenizedDataset TokenizedDataset::select(const std::vector<size_t>& rows) const {
  TokenizedDataset d;
  for (size_t i : rows) d.add(example(i));
  return d;
}

TokenizedDataset TokenizedDataset::concat(const std::vector<const TokenizedDataset*>& parts) {
  TokenizedDataset d;
  for (const TokenizedDataset* p : parts)
    for (size_t i = 0; i < p->size(); ++i) d.add(p->example(i));
  return d;
}

uint64_t TokenizedDataset::content_hash() const {
  Hasher h;
  h.update(tokens_.data(), tokens_.size_bytes());
  for (const Row& r : rows_) {
    int64_t v[9] = {r.prompt_off, r.prompt_len, r.chosen_off, r.chosen_len, r.rejected_off, r.rejected_len,
                    r.chosen_prompt_start, r.rejected_prompt_start, r.paired ? 1 : 0};
    h.update(v, sizeof v);
  }
  return h.digest();
}

int64_t TokenizedDataset::max_row_length(size_t i) const {
  const Row& r = rows_[i];
  int64_t c = r.prompt_len - r.chosen_prompt_start + r.chosen_len;
  if (!r.paired) return c;
  return std::max(c, r.prompt_len - r.rejected_prompt_start + r.rejected_len);
}

}  // namespace prefer::data
