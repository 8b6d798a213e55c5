// Judge verdicts kept on disk, so a re-run (or a run resumed after a judge failed) asks the judge only
// for what it has not answered. One JSONL file, appended and flushed verdict by verdict; the key hashes
// the judge's identity (endpoint, model, template, settings) with the question and both answers in
// their order. Only real verdicts are kept, never parse failures.
#pragma once

#include <cstdio>
#include <filesystem>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "eval/judge.h"

namespace prefer::eval {

class JudgeCache {
 public:
  // `file` empty: no cache (every lookup misses, nothing is written).
  explicit JudgeCache(std::filesystem::path file = {});
  ~JudgeCache();
  JudgeCache(const JudgeCache&) = delete;
  JudgeCache& operator=(const JudgeCache&) = delete;

  static std::string key(const std::string& identity, const JudgeItem& item);
  std::optional<Verdict> get(const std::string& key) const;
  void put(const std::string& key, Verdict v);  // thread-safe
  // Single-answer grades (1-10), kept beside the verdicts.
  std::optional<double> get_score(const std::string& key) const;
  void put_score(const std::string& key, double score);
  int64_t hits() const { return hits_; }

 private:
  std::filesystem::path file_;
  std::FILE* out_ = nullptr;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Verdict> verdicts_;
  std::unordered_map<std::string, double> scores_;
  void append(const Json& line);
  mutable int64_t hits_ = 0;
};

// Judges `items` through `cache`: cached verdicts are used, the rest asked of `judge` and stored as
// they arrive. Returns one verdict per item.
std::vector<Verdict> judge_cached(Judge& judge, JudgeCache& cache, const std::vector<JudgeItem>& items);

// The same for single-answer grades of each item's answer_a (NaN where none could be parsed).
std::vector<double> grade_cached(Judge& judge, JudgeCache& cache, const std::vector<JudgeItem>& items);

}  // namespace prefer::eval
