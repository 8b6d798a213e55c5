// How best-of-N ranks a prompt's candidates: each candidate scored alone, higher is better.
//   --judge rm:DIR                      the reward model's score (prefer score's tokenization)
//   --judge http:URL --judge_mode single (or cmd:PROGRAM)  MT-Bench 1-10 grades, cached like eval's verdicts
//   --verifier CMD                      a program speaking the external-program protocol: one JSON line per
//                                       candidate ({"prompt", "completion", and the prompt row's other columns
//                                       such as "answer"}), one number per line back
//   --verifier exact_match              1 when the completion equals the row's `answer` (both trimmed, runs
//                                       of whitespace as one space), else 0
//   --verifier regex:PATTERN            1 when PATTERN (ECMAScript) matches somewhere in the completion, else 0;
//                                       {answer} in PATTERN stands for the row's `answer`, regex-escaped
// A NaN score (a judge that never answered in the format) keeps the candidate out of every pair.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "cli/eval_run.h"
#include "util/json.h"

namespace prefer::cli {

struct Candidate {
  const OrderedJson* row = nullptr;  // the prompts file's row (its other columns go to verifiers)
  int64_t row_index = 0;             // 0-based, for errors
  OrderedJson prompt;                // as stored: text or messages
  std::string question;              // the prompt as text
  std::string completion;
};

class CandidateScorer {
 public:
  virtual ~CandidateScorer() = default;
  // What the output's meta records as the judge (no paths): "rm:<folder name>", "http:<model>",
  // "exact_match", "regex:<pattern>", "cmd:<program>".
  virtual std::string name() const = 0;
  virtual std::vector<double> score(const std::vector<Candidate>& candidates) = 0;
};

// From --judge (with the judge options) or --verifier; exactly one must be given. `prompts_file` names
// the file in errors about its rows; `work_dir` holds a reward model's scratch files.
std::unique_ptr<CandidateScorer> make_scorer(const EvalOptions& judge, const std::string& verifier,
                                             const std::filesystem::path& prompts_file, const std::filesystem::path& work_dir);

}  // namespace prefer::cli
