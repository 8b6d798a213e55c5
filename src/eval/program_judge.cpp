#include "eval/program_judge.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <sstream>

#include "util/error.h"
#include "util/hash.h"

namespace prefer::eval {

std::string ProgramJudge::identity() const {
  std::string id = "cmd:" + program_.command;
  std::istringstream words(program_.command);
  for (std::string w; words >> w;) {
    if (w.size() >= 2 && (w.front() == '\'' || w.front() == '"') && w.back() == w.front()) w = w.substr(1, w.size() - 2);
    std::error_code ec;
    if (std::filesystem::is_regular_file(w, ec)) id += "|" + w + "=" + hex64(hash_file(w));
  }
  return id;
}

void ProgramJudge::judge(const std::vector<JudgeItem>& items, const std::function<void(size_t, Verdict)>& on_verdict) {
  for (size_t start = 0; start < items.size(); start += batch_size_) {
    const size_t end = std::min(items.size(), start + batch_size_);
    std::vector<OrderedJson> batch;
    for (size_t i = start; i < end; ++i)
      batch.push_back({{"prompt", items[i].prompt}, {"answer_a", items[i].answer_a}, {"answer_b", items[i].answer_b}});
    std::vector<std::string> lines = run_protocol_batch(program_, batch);
    for (size_t k = 0; k < lines.size(); ++k) {
      std::string s = lines[k];
      s.erase(0, s.find_first_not_of(" \t"));
      std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
      Verdict v = s == "A" ? Verdict::A : s == "B" ? Verdict::B : s == "C" ? Verdict::Tie : Verdict::Error;
      if (v == Verdict::Error)
        throw Error("answered '" + lines[k].substr(0, 80) + "' on line " + std::to_string(k + 1) + " of its output; a judge answers A, B or C",
                    {.line = static_cast<int64_t>(k + 1), .field = "judge program '" + program_.command + "'"});
      on_verdict(start + k, v);
    }
  }
}

void ProgramJudge::grade(const std::vector<JudgeItem>& items, const std::function<void(size_t, double)>& on_score) {
  for (size_t start = 0; start < items.size(); start += batch_size_) {
    const size_t end = std::min(items.size(), start + batch_size_);
    std::vector<OrderedJson> batch;
    for (size_t i = start; i < end; ++i) batch.push_back({{"prompt", items[i].prompt}, {"answer", items[i].answer_a}});
    std::vector<std::string> lines = run_protocol_batch(program_, batch);
    for (size_t k = 0; k < lines.size(); ++k) {
      char* stop = nullptr;
      const double v = std::strtod(lines[k].c_str(), &stop);
      if (lines[k].empty() || *stop != '\0' || !(v >= 1 && v <= 10))
        throw Error("answered '" + lines[k].substr(0, 80) + "' on line " + std::to_string(k + 1) + " of its output; a grade is a number from 1 to 10",
                    {.line = static_cast<int64_t>(k + 1), .field = "judge program '" + program_.command + "'"});
      on_score(start + k, v);
    }
  }
}

}  // namespace prefer::eval
