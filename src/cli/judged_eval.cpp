#include "cli/judged_eval.h"

#include <fmt/format.h>

#include "cli/eval_run.h"
#include "cli/prompt_file.h"
#include "cli/train_options.h"
#include "eval/position_swap.h"
#include "util/atomic_file.h"
#include "util/error.h"

namespace prefer::cli {
namespace fs = std::filesystem;

std::function<Json()> make_judged_eval(const Json& o, model::CausalLM& policy, const data::TextModel& text, const fs::path& run_dir,
                                       std::ostream& out) {
  auto prompts_file = opt<std::string>(o, "eval_prompts");
  if (!prompts_file) {
    if (opt<std::string>(o, "judge")) throw Error("needs eval_prompts: the judge compares answers to them", {.field = "judge"});
    return {};
  }
  EvalOptions e;
  e.judge = opt<std::string>(o, "judge").value_or("");
  if (e.judge.empty()) throw Error("needs a judge (rm:DIR, http:URL or cmd:PROGRAM)", {.field = "eval_prompts"});
  e.judge_model = opt<std::string>(o, "judge_model").value_or("");
  e.judge_template = opt<std::string>(o, "judge_template").value_or("");
  e.sampling.max_new_tokens = get<int64_t>(o, "eval_max_new_tokens");
  if (e.sampling.max_new_tokens < 1) throw Error("must be >= 1", {.field = "eval_max_new_tokens"});
  auto judge = std::shared_ptr<eval::Judge>(make_judge(e, run_dir / "judge_work"));
  auto rows = std::make_shared<std::vector<PromptRow>>(read_prompt_file(*prompts_file, text));
  model::GenerationOptions go = generation_options(policy, text);
  e.sampling.apply(go);

  auto answer = [&policy, &text, rows, go]() {
    const bool training = policy.mode().training;
    policy.set_training(false);
    std::vector<Completion> c = complete_prompts(policy, text, *rows, go, 8, "eval answers");
    policy.set_training(training);
    return c;
  };
  // The starting model's answers: made now (before any step, so by the model training starts from), or
  // read back when a resumed run made them before.
  const fs::path ref_file = run_dir / "eval_prompts_reference.jsonl";
  auto reference = std::make_shared<std::vector<std::string>>();
  if (fs::exists(ref_file)) {
    for (const auto& r : read_jsonl_file(ref_file)) reference->push_back(r.value.at("completion").get<std::string>());
  }
  if (reference->size() != rows->size()) {
    reference->clear();
    std::string jsonl;
    for (auto& c : answer()) {
      jsonl += Json{{"completion", c.text}}.dump() + "\n";
      reference->push_back(std::move(c.text));
    }
    write_file_atomic(ref_file, jsonl);
  }
  out << fmt::format("judged eval: {} prompts from {}, judge {}, against the starting model's answers\n", rows->size(), *prompts_file, e.judge);

  return [judge, rows, reference, answer]() {
    std::vector<Completion> mine = answer();
    std::vector<eval::Matchup> m;
    for (size_t i = 0; i < rows->size(); ++i)
      m.push_back({prompt_value((*rows)[i].row), prompt_question((*rows)[i].row), mine[i].text, (*reference)[i]});
    eval::JudgeCache cache(data::default_cache_dir() / "judge" / "verdicts.jsonl");
    const eval::WinRate w = eval::judge_position_swapped(*judge, cache, m).summary;
    return Json{{"eval_win_rate", w.win_rate}, {"eval_tie_rate", w.tie_rate}, {"eval_loss_rate", w.loss_rate},
                {"eval_adjusted_win_rate", w.adjusted_win_rate}, {"eval_length_controlled_win_rate", w.length_controlled_win_rate},
                {"eval_judge_errors", static_cast<double>(w.errors)}, {"eval_mean_length", w.mean_length_model}};
  };
}

}  // namespace prefer::cli
