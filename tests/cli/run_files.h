// Files of the training e2e tests: a small preference file with a planted rule (chosen short and sure,
// rejected long and hedging), a JSONL file's values, and a run's metrics.jsonl rows without the
// wall-clock column.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "test_util.h"
#include "util/json.h"

namespace prefer::test {

inline void write_prefs(const std::filesystem::path& file, int n) {
  std::string s;
  const char* topics[] = {"the sky", "water", "a cat", "the sun", "bread", "music", "a tree", "the sea"};
  for (int i = 0; i < n; ++i) {
    std::string t = topics[i % 8];
    s += Json({{"prompt", "Describe " + t + " briefly."}, {"chosen", " It is " + t + "."},
               {"rejected", " Well, I am not sure, maybe " + t + " is something, it depends."}})
             .dump() +
         "\n";
  }
  write_bytes(file, s);
}

// Every line of a JSONL file, parsed.
inline std::vector<Json> jsonl_values(const std::filesystem::path& file) {
  std::vector<Json> out;
  for (auto& r : read_jsonl_file(file)) out.push_back(r.value);
  return out;
}

inline std::vector<Json> metrics_rows(const std::filesystem::path& run) {
  std::vector<Json> rows;
  for (auto& r : read_jsonl_file(run / "metrics.jsonl")) {
    r.value.erase("tokens_per_second");
    rows.push_back(r.value);
  }
  return rows;
}

}  // namespace prefer::test
