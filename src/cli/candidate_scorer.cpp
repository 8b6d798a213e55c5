#include "cli/candidate_scorer.h"

#include <cctype>
#include <regex>

#include "data/pipeline.h"
#include "eval/judge_cache.h"
#include "eval/program_protocol.h"
#include "eval/rm_judge.h"
#include "util/error.h"

namespace prefer::cli {

namespace fs = std::filesystem;

namespace {

std::string folder_name(std::string p) {
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  return fs::path(p).filename().string();
}

eval::JudgeItem judge_item(const Candidate& c) { return {.prompt = c.prompt, .question = c.question, .answer_a = c.completion}; }

class RewardModelScorer : public CandidateScorer {
 public:
  RewardModelScorer(const EvalOptions& o, const fs::path& work_dir)
      : name_("rm:" + folder_name(o.judge.substr(3))),
        rm_({.model = o.judge.substr(3), .batch_size = o.batch_size, .bf16 = o.bf16, .work_dir = work_dir}) {}
  std::string name() const override { return name_; }
  std::vector<double> score(const std::vector<Candidate>& cs) override {
    std::vector<eval::JudgeItem> items;
    for (const auto& c : cs) items.push_back(judge_item(c));
    return rm_.answer_scores(items);
  }

 private:
  std::string name_;
  eval::RmJudge rm_;
};

// An HTTP or program judge grading each answer alone (MT-Bench's single-answer prompt).
class GradingScorer : public CandidateScorer {
 public:
  GradingScorer(const EvalOptions& o, const fs::path& work_dir)
      : name_(o.judge.rfind("http", 0) == 0 ? "http:" + o.judge_model : o.judge), judge_(make_judge(o, work_dir)),
        cache_(o.no_judge_cache ? fs::path() : data::default_cache_dir() / "judge" / "verdicts.jsonl") {}
  std::string name() const override { return name_; }
  std::vector<double> score(const std::vector<Candidate>& cs) override {
    std::vector<eval::JudgeItem> items;
    for (const auto& c : cs) items.push_back(judge_item(c));
    return eval::grade_cached(*judge_, cache_, items);
  }

 private:
  std::string name_;
  std::unique_ptr<eval::Judge> judge_;
  eval::JudgeCache cache_;
};

class ProgramVerifier : public CandidateScorer {
 public:
  ProgramVerifier(std::string command, double timeout_s) : program_{.command = std::move(command), .timeout_s = timeout_s, .role = "verifier"} {}
  std::string name() const override { return "cmd:" + program_.command; }
  std::vector<double> score(const std::vector<Candidate>& cs) override {
    std::vector<OrderedJson> items;
    for (const auto& c : cs) {
      OrderedJson item{{"prompt", c.prompt}, {"completion", c.completion}};
      for (auto it = c.row->begin(); it != c.row->end(); ++it)
        if (!item.contains(it.key()) && it.key() != "messages") item[it.key()] = it.value();
      items.push_back(std::move(item));
    }
    return eval::run_scoring_batch(program_, items);
  }

 private:
  eval::ProgramOptions program_;
};

// exact_match and regex: both read the row's `answer` (regex only where the pattern names it).
class AnswerVerifier : public CandidateScorer {
 public:
  AnswerVerifier(std::string spec, fs::path prompts_file) : spec_(std::move(spec)), file_(std::move(prompts_file)) {
    if (spec_.rfind("regex:", 0) == 0) {
      pattern_ = spec_.substr(6);
      compile(pattern_);
    }
  }
  std::string name() const override { return spec_; }
  std::vector<double> score(const std::vector<Candidate>& cs) override {
    std::vector<double> out;
    for (const auto& c : cs) {
      if (spec_ == "exact_match") {
        out.push_back(normalize(c.completion) == normalize(answer(c)) ? 1.0 : 0.0);
      } else {
        std::string p = pattern_;
        for (size_t at; (at = p.find("{answer}")) != std::string::npos;) p.replace(at, 8, escape(answer(c)));
        out.push_back(std::regex_search(c.completion, compile(p)) ? 1.0 : 0.0);
      }
    }
    return out;
  }

 private:
  std::string answer(const Candidate& c) const {
    const ErrorContext ctx{.file = file_.string(), .field = "answer",
                           .hint = "--verifier " + spec_ + " compares each completion with the prompt row's answer"};
    if (!c.row->contains("answer")) throw Error("prompt row " + std::to_string(c.row_index + 1) + " has no answer column", ctx);
    const OrderedJson& a = (*c.row)["answer"];
    if (a.is_string()) return a.get<std::string>();
    if (a.is_number() || a.is_boolean()) return a.dump();
    throw Error("prompt row " + std::to_string(c.row_index + 1) + ": must be text or a number", ctx);
  }
  static std::string normalize(const std::string& s) {
    std::string out;
    bool space = false;
    for (char ch : s) {
      if (std::isspace(static_cast<unsigned char>(ch))) {
        space = !out.empty();
        continue;
      }
      if (space) out += ' ';
      space = false;
      out += ch;
    }
    return out;
  }
  static std::string escape(const std::string& s) {
    static const std::string special = R"(\^$.|?*+()[]{}-/)";
    std::string out;
    for (char ch : s) {
      if (special.find(ch) != std::string::npos) out += '\\';
      out += ch;
    }
    return out;
  }
  static std::regex compile(const std::string& p) {
    try {
      return std::regex(p, std::regex::ECMAScript);
    } catch (const std::regex_error& e) {
      throw Error("'" + p + "' is not a regular expression: " + e.what(), {.field = "verifier"});
    }
  }
  std::string spec_, pattern_;
  fs::path file_;
};

}  // namespace

std::unique_ptr<CandidateScorer> make_scorer(const EvalOptions& judge, const std::string& verifier, const fs::path& prompts_file,
                                             const fs::path& work_dir) {
  if (!judge.judge.empty() && !verifier.empty())
    throw Error("give --judge or --verifier, not both: best-of-N ranks candidates by one score", {.field = "verifier"});
  if (judge.judge.empty() && verifier.empty())
    throw Error("best-of-N needs a score for each candidate: --judge rm:DIR, --judge http:URL --judge_mode single, or --verifier "
                "(exact_match, regex:PATTERN or a program)",
                {.field = "judge"});
  if (!verifier.empty()) {
    if (verifier == "exact_match" || verifier.rfind("regex:", 0) == 0) return std::make_unique<AnswerVerifier>(verifier, prompts_file);
    return std::make_unique<ProgramVerifier>(verifier.rfind("cmd:", 0) == 0 ? verifier.substr(4) : verifier, judge.command_timeout);
  }
  if (judge.judge.rfind("rm:", 0) == 0) return std::make_unique<RewardModelScorer>(judge, work_dir);
  if (judge.judge_mode != "single")
    throw Error("best-of-N grades each candidate alone: add --judge_mode single (MT-Bench 1-10 grades), or use --judge rm:DIR or a --verifier",
                {.field = "judge_mode"});
  return std::make_unique<GradingScorer>(judge, work_dir);
}

}  // namespace prefer::cli
