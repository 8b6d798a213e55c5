#include "cli/eval_run.h"

#include <ATen/ATen.h>
#include <fmt/format.h>

#include <cmath>
#include <cstdlib>
#include <iostream>

#include "cli/command.h"
#include "cli/eval_report.h"
#include "data/pipeline.h"
#include "eval/capability.h"
#include "eval/http_judge.h"
#include "eval/judge_cache.h"
#include "eval/position_swap.h"
#include "eval/program_judge.h"
#include "eval/rm_judge.h"
#include "eval/win_rate.h"
#include "model/model_source.h"
#include "train/dataset_scores.h"
#include "util/atomic_file.h"
#include "util/error.h"
#include "util/file.h"
#include "util/hash.h"

namespace prefer::cli {
namespace fs = std::filesystem;

namespace {

// A model and its text side, loaded once.
struct Loaded {
  model::ModelSource source;
  std::unique_ptr<data::TextModel> text;
  std::unique_ptr<model::CausalLM> model;
};

Loaded load(const std::string& path, const std::string& adapter, const std::string& field, bool bf16,
            const model::QuantizationConfig& quant) {
  Loaded l;
  l.source = model::resolve_model_source(path, adapter.empty() ? std::nullopt : std::optional<fs::path>(adapter), field);
  l.text = std::make_unique<data::TextModel>(data::TextModel::load(l.source.tokenizer));
  l.model = std::make_unique<model::CausalLM>(model::load_model_source(l.source, {.dtype = bf16 ? at::kBFloat16 : at::kFloat, .quantization = quant}));
  l.model->set_training(false);
  return l;
}

}  // namespace

std::unique_ptr<eval::Judge> make_judge(const EvalOptions& o, const fs::path& out_dir) {
  const std::string& j = o.judge;
  if (j.rfind("rm:", 0) == 0)
    return std::make_unique<eval::RmJudge>(eval::RmJudgeOptions{.model = j.substr(3), .tie_margin = o.rm_tie_margin,
                                                                 .batch_size = o.batch_size, .bf16 = o.bf16, .work_dir = out_dir});
  if (j.rfind("cmd:", 0) == 0)
    return std::make_unique<eval::ProgramJudge>(eval::ProgramOptions{.command = j.substr(4), .timeout_s = o.command_timeout}, 64);
  if (j == "http" || j.rfind("http:", 0) == 0) {
    eval::HttpJudgeOptions h;
    h.base_url = j == "http" ? (std::getenv("OPENAI_BASE_URL") ? std::getenv("OPENAI_BASE_URL") : "") : j.substr(5);
    if (h.base_url.empty()) throw Error("plain 'http' takes the URL from OPENAI_BASE_URL, which is not set", {.field = "judge"});
    if (const char* key = std::getenv("OPENAI_API_KEY")) h.api_key = key;
    h.model = o.judge_model;
    if (!o.judge_template.empty()) {
      h.user_template = read_file(o.judge_template);
      for (const char* p : {"{question}", "{answer_a}", "{answer_b}"})
        if (h.user_template.find(p) == std::string::npos)
          throw Error(std::string("has no ") + p + " placeholder", {.file = o.judge_template, .field = "judge_template"});
    }
    h.concurrency = static_cast<int>(o.judge_concurrency);
    h.retries = static_cast<int>(o.judge_retries);
    h.timeout_s = o.judge_timeout;
    return std::make_unique<eval::HttpJudge>(h);
  }
  throw Error("'" + j + "' is not a judge: use rm:DIR, http:URL (or http with OPENAI_BASE_URL) or cmd:PROGRAM", {.field = "judge"});
}

namespace {

Json preference_part(const EvalOptions& o, Loaded& m, Loaded* ref, std::vector<std::string>& warnings) {
  data::PreparedData pd = data::prepare_data(o.data, *m.text, o.flags.prepare_options());
  for (const auto& w : pd.warnings) std::cerr << "warning: " << w << "\n";
  const auto& d = pd.data;
  const size_t n = d.size();
  train::DatasetLogps pol = train::dataset_logps(*m.model, d, o.batch_size, 1024, "accuracy");
  std::optional<train::DatasetLogps> rl;
  if (ref) rl = train::dataset_logps(*ref->model, d, o.batch_size, 1024, "reference");
  int64_t pairs = 0, right = 0;
  double margin = 0, chosen = 0, rejected = 0, rejected_per_100 = 0;
  for (size_t i = 0; i < n; ++i) {
    if (!d.row(i).paired) continue;
    ++pairs;
    double c, r;
    if (o.reference_free) {
      c = pol.sum[i] / static_cast<double>(std::max<int64_t>(1, pol.count[i]));
      r = pol.sum[n + i] / static_cast<double>(std::max<int64_t>(1, pol.count[n + i]));
    } else {
      c = o.beta * (pol.sum[i] - rl->sum[i]);
      r = o.beta * (pol.sum[n + i] - rl->sum[n + i]);
    }
    right += c > r;
    margin += c - r;
    chosen += pol.sum[i];
    rejected += pol.sum[n + i];
    rejected_per_100 += 100.0 * pol.sum[n + i] / static_cast<double>(std::max<int64_t>(1, pol.count[n + i]));
  }
  if (pairs == 0) throw Error("holds no preference pairs (prompt, chosen, rejected)", {.file = o.data, .field = "data"});
  const double P = static_cast<double>(pairs);
  Json j = {{"pairs", pairs}, {"accuracy", right / P}, {"margin_mean", margin / P}, {"chosen_logps_mean", chosen / P},
            {"rejected_logps_mean", rejected / P}, {"rejected_logps_per_100_tokens", rejected_per_100 / P},
            {"compared", o.reference_free ? "average log-probabilities (reference-free)" : "implicit rewards beta * (model - reference)"}};
  const double acc = right / P;
  if (acc < 0.70)
    warnings.push_back(fmt::format("held-out preference accuracy is {:.2f}, below the 0.70-0.90 band: under-trained, or noisy labels "
                                   "(check the data with prefer data validate; train longer or raise the learning rate)", acc));
  if (rejected_per_100 / P < -200)
    warnings.push_back(fmt::format("rejected responses average {:.0f} log-probability per 100 tokens (below -200): the model is pushing "
                                   "probability away from whole responses, a sign of degenerate training (raise beta, lower the learning rate)",
                                   rejected_per_100 / P));
  return j;
}

}  // namespace

void add_judge_options(CLI::App* cmd, EvalOptions& o) {
  cmd->add_option("--judge", o.judge, "rm:DIR, http:URL (OpenAI base URL with /v1; plain http uses OPENAI_BASE_URL) or cmd:PROGRAM");
  cmd->add_option("--judge_model", o.judge_model, "Model name sent to an HTTP judge");
  cmd->add_option("--judge_template", o.judge_template, "File replacing the pairwise prompt ({question}, {answer_a}, {answer_b})");
  cmd->add_option("--rm_tie_margin", o.rm_tie_margin, "A reward-model judge calls |score difference| <= this a tie")->capture_default_str()->check(CLI::NonNegativeNumber);
  cmd->add_option("--judge_concurrency", o.judge_concurrency, "HTTP judge calls at once")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("--judge_retries", o.judge_retries, "Retries of a failed or unparseable HTTP judge call")->capture_default_str()->check(CLI::NonNegativeNumber);
  cmd->add_option("--judge_timeout", o.judge_timeout, "Seconds an HTTP judge call may take")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("--command_timeout", o.command_timeout, "Seconds a judge program may take per batch")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("--judge_mode", o.judge_mode, "pairwise, or single: MT-Bench 1-10 grades of each answer as well (http or cmd judges)")
      ->capture_default_str()->check(CLI::IsMember({"pairwise", "single"}));
  add_bool_option(cmd, "no_judge_cache", o.no_judge_cache, "Ask the judge again instead of reusing cached verdicts");
}

void add_eval_options(CLI::App* cmd, EvalOptions& o) {
  cmd->add_option("--data", o.data, "Held-out preference pairs: implicit-reward accuracy against the reference");
  add_bool_option(cmd, "reference_free", o.reference_free, "Accuracy from average log-probs (ORPO, CPO/SimPO) instead of implicit rewards");
  cmd->add_option("--beta", o.beta, "beta of the implicit reward")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("--prompts", o.prompts, "Prompts both models answer for the win rate (prompt or messages per line)");
  add_judge_options(cmd, o);
  o.sampling.max_new_tokens = 256;
  o.sampling.add_to(cmd);
  cmd->add_option("--capability", o.capability, "MMLU-format JSONL (question, choices, answer): multiple-choice accuracy");
  add_bool_option(cmd, "mc_normalize", o.mc_normalize, "Divide each choice's log-probability by its token count");
  cmd->add_option("--perplexity_data", o.perplexity_data, "Held-out text: perplexity of both models");
  cmd->add_option("--max_regression", o.max_regression, "Capability drop (accuracy points as a fraction) that is flagged")->capture_default_str()->check(CLI::NonNegativeNumber);
  cmd->add_option("--inspect", o.inspect, "Prompts shown side by side in samples.html")->capture_default_str()->check(CLI::NonNegativeNumber);
  cmd->add_option("--batch_size", o.batch_size, "Examples per batch")->capture_default_str()->check(CLI::PositiveNumber);
  add_bool_option(cmd, "bf16", o.bf16, "Compute in bfloat16");
  o.quant.add_to(cmd);
  o.flags.max_length = 0;
  o.flags.add_to(cmd);
}

void check_eval_options(const EvalOptions& o) {
  if (o.data.empty() && o.prompts.empty() && o.capability.empty() && o.perplexity_data.empty())
    throw Error("nothing to evaluate: give --data (held-out pairs), --prompts with --judge (win rate), --capability or --perplexity_data");
  if (!o.prompts.empty() && o.judge.empty()) throw Error("--prompts needs a --judge (rm:DIR, http:URL or cmd:PROGRAM)", {.field = "judge"});
  if (o.reference.empty() && (!o.prompts.empty() || (!o.data.empty() && !o.reference_free)))
    throw Error("needs --reference: the win rate and implicit-reward accuracy compare against it", {.field = "reference",
                .hint = o.data.empty() ? "" : "or pass --reference_free true for ORPO/CPO/SimPO models"});
}

Json run_eval(const EvalOptions& o, const fs::path& out_dir) {
  check_eval_options(o);
  fs::create_directories(out_dir);
  // Judge settings are checked before any model loads.
  std::unique_ptr<eval::Judge> judge;
  if (!o.prompts.empty()) judge = make_judge(o, out_dir);
  if (judge && o.judge_mode == "single" && !judge->can_grade())
    throw Error("needs an http: or cmd: judge; a reward model compares answers but does not grade them 1-10", {.field = "judge_mode"});

  Loaded m = load(o.model, o.adapter, "model", o.bf16, o.quant.config());
  std::optional<Loaded> ref;
  if (!o.reference.empty()) ref = load(o.reference, "", "reference", o.bf16, o.quant.config());

  Json result = Json::object();
  Json data_hashes = Json::object();
  std::vector<std::string> warnings;
  for (const auto& f : {o.data, o.prompts, o.capability, o.perplexity_data})
    if (!f.empty()) data_hashes[f] = hex64(hash_file(f));

  if (!o.data.empty()) result["preference_accuracy"] = preference_part(o, m, ref ? &*ref : nullptr, warnings);

  std::vector<SampleRow> samples;
  if (!o.prompts.empty()) {
    auto gen_for = [&](Loaded& l, const std::string& label) {
      std::vector<PromptRow> rows = read_prompt_file(o.prompts, *l.text);
      model::GenerationOptions go = generation_options(*l.model, *l.text);
      o.sampling.apply(go);
      return std::pair{rows, complete_prompts(*l.model, *l.text, rows, go, o.batch_size, label)};
    };
    auto [rows, mine] = gen_for(m, "model answers");
    auto theirs = gen_for(*ref, "reference answers").second;
    std::vector<eval::Matchup> matchups;
    for (size_t i = 0; i < rows.size(); ++i)
      matchups.push_back({prompt_value(rows[i].row), prompt_question(rows[i].row), mine[i].text, theirs[i].text});
    eval::JudgeCache cache(o.no_judge_cache ? fs::path() : data::default_cache_dir() / "judge" / "verdicts.jsonl");
    eval::PositionSwapResult judged = eval::judge_position_swapped(*judge, cache, matchups);
    for (size_t i = 0; i < rows.size(); ++i)
      samples.push_back({matchups[i].prompt, matchups[i].question, mine[i].text, theirs[i].text, eval::verdict_name(judged.model_first[i]),
                         eval::verdict_name(judged.model_second[i]), eval::outcome_name(judged.outcomes[i])});
    const eval::WinRate& w = judged.summary;
    if (o.judge_mode == "single") {
      // MT-Bench's single-answer grading of both answers to every prompt, beside the pairwise verdicts.
      std::vector<eval::JudgeItem> items;
      for (const auto& mu : matchups) items.push_back({mu.prompt, mu.question, mu.model_answer, ""});
      for (const auto& mu : matchups) items.push_back({mu.prompt, mu.question, mu.reference_answer, ""});
      std::vector<double> g = eval::grade_cached(*judge, cache, items);
      double sm = 0, sr = 0;
      int64_t nm = 0, nr = 0;
      for (size_t i = 0; i < rows.size(); ++i) {
        samples[i].score_model = g[i];
        samples[i].score_reference = g[rows.size() + i];
        if (!std::isnan(g[i])) sm += g[i], ++nm;
        if (!std::isnan(g[rows.size() + i])) sr += g[rows.size() + i], ++nr;
      }
      result["single_score_model"] = nm ? Json(sm / static_cast<double>(nm)) : Json();
      result["single_score_reference"] = nr ? Json(sr / static_cast<double>(nr)) : Json();
      result["single_grade_errors"] = static_cast<int64_t>(2 * rows.size()) - nm - nr;
    }
    result["win_rate"] = w.win_rate;
    result["tie_rate"] = w.tie_rate;
    result["loss_rate"] = w.loss_rate;
    result["adjusted_win_rate"] = w.adjusted_win_rate;
    result["win_rate_ci"] = {w.win_rate_ci.first, w.win_rate_ci.second};
    result["length_controlled_win_rate"] = w.length_controlled_win_rate;
    result["mean_length_model"] = w.mean_length_model;
    result["mean_length_reference"] = w.mean_length_reference;
    result["judged"] = w.judged;
    result["judge_errors"] = w.errors;
    result["judge_cache_hits"] = cache.hits();
    if (w.judged > 0 && w.mean_length_model > 1.2 * w.mean_length_reference && w.adjusted_win_rate > w.length_controlled_win_rate + 0.05)
      warnings.push_back(fmt::format("the model's answers are {:.0f}% longer and the length-controlled win rate ({:.2f}) is below the raw one "
                                     "({:.2f}): part of the win is length, which judges favour", 100 * (w.mean_length_model / w.mean_length_reference - 1),
                                     w.length_controlled_win_rate, w.adjusted_win_rate));
    if (result.contains("preference_accuracy") && result["preference_accuracy"]["accuracy"].get<double>() > 0.90 && w.adjusted_win_rate < 0.55)
      warnings.push_back("held-out accuracy is above 0.90 but the win rate is below 0.55: the model fits the preference data without "
                         "answering better, the seed's sign of overfitting (fewer epochs, more data, or a higher beta)");
  }

  if (!o.capability.empty() || !o.perplexity_data.empty()) {
    Json cap = Json::object();
    eval::ScoringOptions so{.batch_size = o.batch_size, .work_dir = out_dir};
    if (!o.capability.empty()) {
      auto q = eval::read_mc_questions(o.capability);
      cap["questions"] = q.size();
      cap["mc_accuracy_model"] = eval::mc_accuracy(*m.model, *m.text, q, o.mc_normalize, so).accuracy;
      if (ref) {
        cap["mc_accuracy_reference"] = eval::mc_accuracy(*ref->model, *ref->text, q, o.mc_normalize, so).accuracy;
        const double drop = cap["mc_accuracy_reference"].get<double>() - cap["mc_accuracy_model"].get<double>();
        if (drop > o.max_regression + 1e-12)
          warnings.push_back(fmt::format("multiple-choice accuracy fell by {:.3f} ({:.3f} -> {:.3f}), more than --max_regression {}: the alignment "
                                         "tax is too high; raise beta (stay closer to the reference) or lower the learning rate",
                                         drop, cap["mc_accuracy_reference"].get<double>(), cap["mc_accuracy_model"].get<double>(), o.max_regression));
      }
    }
    if (!o.perplexity_data.empty()) {
      cap["perplexity_model"] = eval::perplexity(*m.model, *m.text, o.perplexity_data, so);
      if (ref) cap["perplexity_reference"] = eval::perplexity(*ref->model, *ref->text, o.perplexity_data, so);
    }
    result["capability"] = cap;
  }

  Json settings = {{"model", m.source.describe()}, {"reference", ref ? ref->source.describe() : ""}, {"judge", o.judge},
                   {"judge_model", o.judge_model}, {"judge_template", o.judge_template}, {"judge_mode", o.judge_mode}, {"beta", o.beta},
                   {"reference_free", o.reference_free}, {"generation", o.sampling.to_json()}, {"rm_tie_margin", o.rm_tie_margin}, {"mc_normalize", o.mc_normalize}, {"max_regression", o.max_regression}};
  result["settings"] = settings;
  result["data"] = data_hashes;
  result["warnings"] = warnings;
  write_eval_outputs(out_dir, result, samples, o.inspect);
  std::cout << eval_summary(result);
  for (const auto& w : warnings) std::cout << "warning: " << w << "\n";
  std::cout << "wrote " << (out_dir / "eval.json").string() << "\n";
  return result;
}

}  // namespace prefer::cli
