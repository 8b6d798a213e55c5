// `--judge rm:DIR`: a reward model from `prefer reward` (or any HF sequence classifier) as the judge. Each
// prompt + answer is tokenized with the reward model's own tokenizer and template, exactly as `prefer
// score` tokenizes a pair; the higher score wins and |difference| <= tie_margin is a tie. Deterministic
// and local: the position swap changes nothing but is kept, so its bookkeeping is the same as any judge's.
#pragma once

#include <filesystem>
#include <memory>

#include "data/pipeline.h"
#include "eval/judge.h"
#include "model/causal_lm.h"
#include "train/dataset_scores.h"

namespace prefer::eval {

struct RmJudgeOptions {
  std::filesystem::path model;
  double tie_margin = 0.0;
  int64_t batch_size = 8;
  bool bf16 = false;
  std::filesystem::path work_dir;  // where the pairs are written for tokenizing (removed after)
};

class RmJudge : public Judge {
 public:
  explicit RmJudge(RmJudgeOptions options);
  std::string identity() const override;
  void judge(const std::vector<JudgeItem>& items, const std::function<void(size_t, Verdict)>& on_verdict) override;
  // The reward model's scores of (prompt, answer_a) and (prompt, answer_b) per item.
  std::pair<std::vector<double>, std::vector<double>> scores(const std::vector<JudgeItem>& items);
  // The reward model's score of (prompt, answer_a) alone per item (best-of-N ranks candidates by it).
  std::vector<double> answer_scores(const std::vector<JudgeItem>& items);

 private:
  // Rewards of prefer-format rows (`paired`: prompt/chosen/rejected, else prompt/completion), chat and
  // text prompts in separate files; `first` (and `second`) in item order. Items `skip` accepts score 0.
  train::DatasetRewards rewards(const std::vector<JudgeItem>& items, bool paired, const std::function<bool(const JudgeItem&)>& skip);
  RmJudgeOptions opt_;
  uint64_t hash_ = 0;
  std::unique_ptr<data::TextModel> text_;
  std::unique_ptr<model::CausalLM> model_;
};

}  // namespace prefer::eval
