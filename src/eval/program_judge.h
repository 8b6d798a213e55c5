// `--judge cmd:PROGRAM`: a scripted judge on the external-program protocol. Items go out as
// {"prompt", "answer_a", "answer_b"}; each answer line is A, B or C (case and surrounding space
// ignored); anything else is an error naming the program and the item's line in the batch.
#pragma once

#include "eval/judge.h"
#include "eval/program_protocol.h"

namespace prefer::eval {

class ProgramJudge : public Judge {
 public:
  ProgramJudge(ProgramOptions program, size_t batch_size) : program_(std::move(program)), batch_size_(batch_size) {}
  // The command line, and the contents of every file it names (a script edited in place is a new judge).
  std::string identity() const override;
  void judge(const std::vector<JudgeItem>& items, const std::function<void(size_t, Verdict)>& on_verdict) override;
  // Single grading: items go out as {"prompt", "answer"}; each line is a number from 1 to 10.
  void grade(const std::vector<JudgeItem>& items, const std::function<void(size_t, double)>& on_score) override;
  bool can_grade() const override { return true; }

 private:
  ProgramOptions program_;
  size_t batch_size_;
};

}  // namespace prefer::eval
