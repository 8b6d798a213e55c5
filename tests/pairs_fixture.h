// Hand-made tokenized preference pairs for tests of batches, recipes and the trainer (ids are tokens of
// the fixture vocabulary of 320).
#pragma once

#include <cstdint>
#include <vector>

#include "data/tokenized_dataset.h"

namespace prefer::test {

inline void add_pair(data::TokenizedDataset& d, std::vector<int32_t> prompt, std::vector<int32_t> chosen,
                     std::vector<int32_t> rejected) {
  data::TokenizedExample ex;
  ex.paired = true;
  ex.line = static_cast<int64_t>(d.size()) + 1;
  ex.prompt_ids = std::move(prompt);
  ex.chosen.completion_ids = std::move(chosen);
  ex.rejected.completion_ids = std::move(rejected);
  d.add(ex);
}

}  // namespace prefer::test
