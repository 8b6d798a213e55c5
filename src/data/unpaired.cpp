#include "data/unpaired.h"

#include <algorithm>

#include "util/error.h"

namespace prefer::data {

TokenizedDataset unpair(const TokenizedDataset& data) {
  TokenizedDataset out;
  for (size_t i = 0; i < data.size(); ++i) {
    TokenizedExample ex = data.example(i);
    if (!ex.paired) {
      out.add(ex);
      continue;
    }
    TokenizedExample good = ex, bad = ex;
    good.paired = bad.paired = false;
    good.label = true;
    bad.label = false;
    good.rejected = bad.rejected = {};
    bad.chosen = ex.rejected;
    out.add(good);
    out.add(bad);
  }
  return out;
}

TokenizedDataset mismatched_rows(const TokenizedDataset& data, const std::vector<std::vector<size_t>>& blocks, int64_t max_length) {
  std::vector<size_t> partner(data.size(), data.size());
  for (const auto& b : blocks) {
    if (b.size() < 2) throw Error("a block of one example cannot form a mismatched prompt/completion pair", {.field = "blocks"});
    for (size_t j = 0; j < b.size(); ++j) partner[b[j]] = b[(j + b.size() - 1) % b.size()];
  }
  TokenizedDataset out;
  for (size_t i = 0; i < data.size(); ++i) {
    TokenizedExample ex;
    ex.line = data.row(i).line;
    ex.label = data.row(i).label >= 0 ? std::optional<bool>(data.row(i).label == 1) : std::nullopt;
    if (partner[i] < data.size()) {
      auto p = data.prompt(i);
      auto c = data.chosen(partner[i]);
      ex.prompt_ids.assign(p.begin(), p.end());
      size_t keep = c.size();
      if (max_length > 0) keep = std::min(keep, static_cast<size_t>(std::max<int64_t>(0, max_length - static_cast<int64_t>(p.size()))));
      ex.chosen.completion_ids.assign(c.begin(), c.begin() + static_cast<std::ptrdiff_t>(keep));
      ex.chosen.truncated = keep < c.size();
    }
    out.add(ex);
  }
  return out;
}

}  // namespace prefer::data
