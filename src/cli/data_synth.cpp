// `prefer data synth`: preference pairs made by a model.
//   contrast   --good_system / --bad_system: the chosen answer under the good system prompt (at
//              --chosen_temperature), the rejected one under the bad (--rejected_temperature); the stored
//              prompt never holds either system prompt. Identical answers make no pair.
//   best-of-N  --num_candidates N --temperature T: N candidates per prompt, each scored (candidate_scorer.h),
//              the best as chosen and the worst as rejected, or every pair at least --min_gap apart.
// Output: TRL-format JSONL (conversational when the generator uses a chat template; --unpaired: KTO's
// prompt/completion/label rows) with a `meta` column training ignores, and F.report.json (prompts, pairs
// kept, dropped and why, the bias report). A fixed seed gives the same bytes; a killed run resumes where it
// stopped (util/resumable_jsonl.h), a chunk of --batch_size prompts at a time.
#include <fmt/format.h>

#include <cmath>
#include <iostream>
#include <map>

#include "cli/answer_generator.h"
#include "cli/candidate_scorer.h"
#include "cli/data_commands.h"
#include "cli/eval_run.h"
#include "cli/prompt_file.h"
#include "data/best_of_n.h"
#include "data/bias_report.h"
#include "io/records.h"
#include "util/error.h"
#include "util/file.h"
#include "util/hash.h"
#include "util/progress.h"
#include "util/resumable_jsonl.h"

namespace prefer::cli {

namespace fs = std::filesystem;

namespace {

struct SynthOptions {
  std::string prompts, output, model, model_name, good_system, bad_system, verifier;
  double chosen_temperature = 0.7, rejected_temperature = 0.9, temperature = 0.8, top_p = 1.0, min_gap = 0, model_timeout = 300;
  int64_t max_new_tokens = 256, chosen_max_new_tokens = 0, rejected_max_new_tokens = 0, num_candidates = 0, seed = 0, batch_size = 8,
          model_concurrency = 4, model_retries = 3;
  bool unpaired = false, bf16 = false;
  QuantizationFlags quant;
  EvalOptions judge;
};

struct PromptLine {
  OrderedJson row;
  OrderedJson prompt;  // text or messages, as the row has it
};

// Every line checked before any generation: a prompt (text or messages) or messages.
std::vector<PromptLine> read_prompts(const fs::path& file) {
  std::vector<PromptLine> out;
  for (io::Record& rec : io::read_records(file)) {
    ErrorContext ctx = rec.where;
    OrderedJson row = std::move(rec.value);
    if (!row.is_object()) throw Error("expected a JSON object", ctx);
    const char* key = row.contains("prompt") ? "prompt" : row.contains("messages") ? "messages" : nullptr;
    if (!key) throw Error("needs a prompt (text or a list of chat messages) or messages", ctx);
    const OrderedJson& p = row[key];
    ctx.field = key;
    if (p.is_string() ? p.get<std::string>().empty() : !p.is_array() || p.empty())
      throw Error("must be non-empty text or a non-empty list of chat messages", ctx);
    for (const auto& m : p.is_array() ? p : OrderedJson::array())
      if (!m.is_object() || !m.contains("role") || !m.contains("content")) throw Error("each message needs a role and a content", ctx);
    out.push_back({row, p});
  }
  if (out.empty()) throw Error("has no prompts", {.file = file.string()});
  return out;
}

// "TEXT" or "@FILE".
std::string text_or_file(const std::string& v) { return v.rfind('@', 0) == 0 ? read_file(v.substr(1)) : v; }

struct Counters {
  int64_t prompts = 0, pairs = 0, rows = 0;
  std::map<std::string, int64_t> dropped;
  Json to_json() const { return {{"prompts", prompts}, {"pairs", pairs}, {"rows", rows}, {"dropped", dropped}}; }
  static Counters from_json(const Json& j) {
    Counters c;
    if (j.empty()) return c;
    c.prompts = j.at("prompts").get<int64_t>();
    c.pairs = j.at("pairs").get<int64_t>();
    c.rows = j.at("rows").get<int64_t>();
    c.dropped = j.at("dropped").get<std::map<std::string, int64_t>>();
    return c;
  }
};

class Synth {
 public:
  Synth(const SynthOptions& o, AnswerGenerator& gen, CandidateScorer* scorer, std::vector<PromptLine> prompts, std::string good,
        std::string bad)
      : o_(o), gen_(gen), scorer_(scorer), prompts_(std::move(prompts)), good_(std::move(good)), bad_(std::move(bad)) {}

  // The JSONL lines for prompts [begin, end).
  std::string chunk(size_t begin, size_t end, Counters& c) {
    std::string lines;
    if (!scorer_) {
      std::vector<AnswerRequest> req;
      for (const bool good : {true, false})
        for (size_t i = begin; i < end; ++i)
          req.push_back({.prompt = prompts_[i].prompt, .system = good ? good_ : bad_,
                         .temperature = good ? o_.chosen_temperature : o_.rejected_temperature, .top_p = o_.top_p,
                         .max_new_tokens = good ? chosen_max() : rejected_max(),
                         .seed = static_cast<uint64_t>(o_.seed) + 2 * i + (good ? 0 : 1)});
      const std::vector<std::string> a = gen_.generate(req);
      for (size_t i = begin; i < end; ++i) {
        const std::string& chosen = a[i - begin];
        const std::string& rejected = a[(end - begin) + (i - begin)];
        ++c.prompts;
        if (trimmed(chosen).empty() || trimmed(rejected).empty()) ++c.dropped["empty_answer"];
        else if (trimmed(chosen) == trimmed(rejected)) ++c.dropped["identical"];
        else lines += pair_lines(i, chosen, rejected, meta({}), c);
      }
      return lines;
    }
    const size_t n = static_cast<size_t>(o_.num_candidates);
    std::vector<AnswerRequest> req;
    for (size_t i = begin; i < end; ++i)
      for (size_t k = 0; k < n; ++k)
        req.push_back({.prompt = prompts_[i].prompt, .temperature = o_.temperature, .top_p = o_.top_p, .max_new_tokens = o_.max_new_tokens,
                       .seed = static_cast<uint64_t>(o_.seed) + i * n + k});
    const std::vector<std::string> a = gen_.generate(req);
    // Score the non-empty candidates (an empty one is never a chosen or a rejected answer).
    std::vector<Candidate> cands;
    std::vector<size_t> where;
    for (size_t j = 0; j < a.size(); ++j) {
      if (trimmed(a[j]).empty()) continue;
      const size_t i = begin + j / n;
      cands.push_back({.row = &prompts_[i].row, .row_index = static_cast<int64_t>(i), .prompt = prompts_[i].prompt,
                       .question = prompt_question(prompts_[i].row), .completion = a[j]});
      where.push_back(j);
    }
    std::vector<double> scored = cands.empty() ? std::vector<double>() : scorer_->score(cands);
    std::vector<double> scores(a.size(), std::nan(""));
    for (size_t k = 0; k < where.size(); ++k) scores[where[k]] = scored[k];
    for (size_t i = begin; i < end; ++i) {
      ++c.prompts;
      const size_t off = (i - begin) * n;
      std::vector<std::string> texts;
      for (size_t k = 0; k < n; ++k) texts.push_back(trimmed(a[off + k]).empty() ? std::string() : a[off + k]);
      std::vector<double> s(scores.begin() + static_cast<std::ptrdiff_t>(off), scores.begin() + static_cast<std::ptrdiff_t>(off + n));
      data::PairSelection sel = data::select_pairs(texts, s, o_.min_gap);
      if (sel.pairs.empty()) ++c.dropped[sel.dropped];
      Json all = Json::array();
      for (double x : s) all.push_back(std::isnan(x) ? Json() : Json(x));
      for (const auto& p : sel.pairs)
        lines += pair_lines(i, texts[p.chosen], texts[p.rejected],
                            meta({{"judge", scorer_->name()}, {"chosen_score", s[p.chosen]}, {"rejected_score", s[p.rejected]}, {"scores", all}}), c);
    }
    return lines;
  }

 private:
  int64_t chosen_max() const { return o_.chosen_max_new_tokens > 0 ? o_.chosen_max_new_tokens : o_.max_new_tokens; }
  int64_t rejected_max() const { return o_.rejected_max_new_tokens > 0 ? o_.rejected_max_new_tokens : o_.max_new_tokens; }
  static std::string trimmed(const std::string& s) {
    const size_t b = s.find_first_not_of(" \t\r\n"), e = s.find_last_not_of(" \t\r\n");
    return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
  }

  OrderedJson meta(OrderedJson extra) const {
    OrderedJson m{{"generator", gen_.name()}, {"mode", scorer_ ? "best_of_n" : "contrast"}, {"seed", o_.seed}};
    if (scorer_) m["temperature"] = o_.temperature;
    else m["temperature"] = {{"chosen", o_.chosen_temperature}, {"rejected", o_.rejected_temperature}};
    for (auto& [k, v] : extra.items()) m[k] = v;
    return m;
  }

  std::string pair_lines(size_t i, const std::string& chosen, const std::string& rejected, const OrderedJson& meta, Counters& c) const {
    const PromptLine& p = prompts_[i];
    const bool chat = gen_.chat() || p.prompt.is_array();
    auto side = [&](const std::string& t) { return chat ? OrderedJson::array({{{"role", "assistant"}, {"content", t}}}) : OrderedJson(t); };
    const OrderedJson prompt = chat && p.prompt.is_string() ? OrderedJson::array({{{"role", "user"}, {"content", p.prompt}}}) : p.prompt;
    // The prompt row's other columns (topic, answer, ...) travel with the pair.
    auto extras = [&](OrderedJson& r) {
      for (auto it = p.row.begin(); it != p.row.end(); ++it)
        if (!r.contains(it.key()) && it.key() != "messages" && it.key() != "meta" && it.key() != "chosen" && it.key() != "rejected" &&
            it.key() != "completion" && it.key() != "label")
          r[it.key()] = it.value();
      r["meta"] = meta;
    };
    ++c.pairs;
    if (o_.unpaired) {
      std::string out;
      for (const bool good : {true, false}) {
        OrderedJson r{{"prompt", prompt}};
        r["completion"] = side(good ? chosen : rejected);
        r["label"] = good;
        extras(r);
        out += r.dump() + "\n";
        ++c.rows;
      }
      return out;
    }
    OrderedJson r{{"prompt", prompt}};
    r["chosen"] = side(chosen);
    r["rejected"] = side(rejected);
    extras(r);
    ++c.rows;
    return r.dump() + "\n";
  }

  const SynthOptions& o_;
  AnswerGenerator& gen_;
  CandidateScorer* scorer_;
  std::vector<PromptLine> prompts_;
  std::string good_, bad_;
};

void check(const SynthOptions& o, bool contrast, bool best_of_n) {
  if (contrast && best_of_n)
    throw Error("--good_system/--bad_system (contrast pairs) and --num_candidates (best-of-N) are two ways to make pairs: give one",
                {.field = "num_candidates"});
  if (!contrast && !best_of_n)
    throw Error("say how to make pairs: --good_system and --bad_system (system-prompt contrast), or --num_candidates N with --judge or "
                "--verifier (best-of-N)",
                {.field = "good_system"});
  if (contrast && (o.good_system.empty() || o.bad_system.empty()))
    throw Error("contrast pairs need both --good_system and --bad_system", {.field = o.good_system.empty() ? "good_system" : "bad_system"});
  if (best_of_n && o.num_candidates < 2) throw Error("must be at least 2 (a best and a worst)", {.field = "num_candidates"});
  if (contrast && (!o.judge.judge.empty() || !o.verifier.empty()))
    throw Error("contrast pairs are labelled by their system prompts; --judge and --verifier are for best-of-N "
                "(prefer data judge audits contrast pairs afterwards)",
                {.field = o.verifier.empty() ? "judge" : "verifier"});
}

}  // namespace

void add_data_synth(CLI::App* data_cmd, GlobalOptions& g) {
  auto o = std::make_shared<SynthOptions>();
  CLI::App* cmd = data_cmd->add_subcommand("synth", "Make preference pairs with a model: system-prompt contrast or best-of-N");
  cmd->add_option("--prompts", o->prompts, "JSONL of prompts (prompt as text or chat messages, or messages; other columns kept)")->required();
  cmd->add_option("--output", o->output, "The pairs (TRL-format JSONL); F.report.json beside it")->required();
  cmd->add_option("--model", o->model, "Generator: a model folder, or http:URL (an OpenAI-compatible endpoint; plain http: OPENAI_BASE_URL)")
      ->required();
  cmd->add_option("--model_name", o->model_name, "Model name sent to an HTTP generator");
  cmd->add_option("--good_system", o->good_system, "Contrast: the system prompt of chosen answers (TEXT or @FILE)");
  cmd->add_option("--bad_system", o->bad_system, "Contrast: the system prompt of rejected answers (TEXT or @FILE)");
  cmd->add_option("--chosen_temperature", o->chosen_temperature, "Contrast: temperature of chosen answers")->capture_default_str()->check(CLI::NonNegativeNumber);
  cmd->add_option("--rejected_temperature", o->rejected_temperature, "Contrast: temperature of rejected answers")->capture_default_str()->check(CLI::NonNegativeNumber);
  cmd->add_option("--chosen_max_new_tokens", o->chosen_max_new_tokens, "Contrast: token budget of chosen answers (default --max_new_tokens)")->check(CLI::PositiveNumber);
  cmd->add_option("--rejected_max_new_tokens", o->rejected_max_new_tokens, "Contrast: token budget of rejected answers (default --max_new_tokens)")->check(CLI::PositiveNumber);
  cmd->add_option("--num_candidates", o->num_candidates, "Best-of-N: candidates per prompt")->check(CLI::PositiveNumber);
  cmd->add_option("--temperature", o->temperature, "Best-of-N: sampling temperature of the candidates")->capture_default_str()->check(CLI::NonNegativeNumber);
  cmd->add_option("--min_gap", o->min_gap, "Best-of-N: keep every pair at least this far apart in score (0: best and worst only)")
      ->capture_default_str()->check(CLI::NonNegativeNumber);
  cmd->add_option("--verifier", o->verifier, "Best-of-N: exact_match (against an answer column), regex:PATTERN, or a program (cmd:PROG or PROG)");
  add_judge_options(cmd, o->judge);
  cmd->add_option("--max_new_tokens", o->max_new_tokens, "Tokens per answer at most")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("--top_p", o->top_p, "Nucleus sampling mass")->capture_default_str()->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--seed", o->seed, "Sampling seed: the same seed gives the same file")->capture_default_str();
  cmd->add_option("--batch_size", o->batch_size, "Prompts per chunk (a local model samples a chunk's answers in batches this size; "
                  "a killed run resumes after the last whole chunk)")->capture_default_str()->check(CLI::PositiveNumber);
  add_bool_option(cmd, "unpaired", o->unpaired, "Write KTO's prompt/completion/label rows instead of pairs");
  add_bool_option(cmd, "bf16", o->bf16, "Compute in bfloat16 (local models)");
  o->quant.add_to(cmd);
  cmd->add_option("--model_concurrency", o->model_concurrency, "HTTP generator calls at once")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("--model_retries", o->model_retries, "Retries of a failed HTTP generator call")->capture_default_str()->check(CLI::NonNegativeNumber);
  cmd->add_option("--model_timeout", o->model_timeout, "Seconds an HTTP generator call may take")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->callback([o, &g] {
    apply_global_options(g);
    const bool contrast = !o->good_system.empty() || !o->bad_system.empty(), best_of_n = o->num_candidates > 0;
    check(*o, contrast, best_of_n);
    const std::string good = contrast ? text_or_file(o->good_system) : "", bad = contrast ? text_or_file(o->bad_system) : "";
    std::vector<PromptLine> prompts = read_prompts(o->prompts);
    const fs::path out = o->output;
    o->judge.batch_size = o->batch_size;
    o->judge.bf16 = o->bf16;
    // Everything the bytes of the output depend on: a restart with other values starts over (or refuses).
    Json fingerprint{{"prompts", hex64(hash_file(o->prompts))}, {"model", o->model}, {"model_name", o->model_name}, {"good", good},
                     {"bad", bad}, {"chosen_temperature", o->chosen_temperature}, {"rejected_temperature", o->rejected_temperature},
                     {"chosen_max", o->chosen_max_new_tokens}, {"rejected_max", o->rejected_max_new_tokens},
                     {"num_candidates", o->num_candidates}, {"temperature", o->temperature}, {"min_gap", o->min_gap},
                     {"judge", o->judge.judge}, {"judge_model", o->judge.judge_model}, {"judge_mode", o->judge.judge_mode},
                     {"verifier", o->verifier}, {"max_new_tokens", o->max_new_tokens}, {"top_p", o->top_p}, {"seed", o->seed},
                     {"batch_size", o->batch_size}, {"unpaired", o->unpaired}, {"bf16", o->bf16}, {"quant", o->quant.config().describe()}};
    ResumableJsonl writer(out, fingerprint);
    std::unique_ptr<AnswerGenerator> gen = make_generator({.model = o->model, .model_name = o->model_name, .batch_size = o->batch_size,
                                                          .bf16 = o->bf16, .quant = o->quant.config(),
                                                          .concurrency = static_cast<int>(o->model_concurrency),
                                                          .retries = static_cast<int>(o->model_retries), .timeout_s = o->model_timeout});
    std::unique_ptr<CandidateScorer> scorer;
    if (best_of_n) scorer = make_scorer(o->judge, o->verifier, o->prompts, out.parent_path().empty() ? fs::path(".") : out.parent_path());
    Synth synth(*o, *gen, scorer.get(), prompts, good, bad);
    Counters c = Counters::from_json(writer.counters());
    const size_t unit = static_cast<size_t>(o->batch_size), n = prompts.size();
    const size_t units = (n + unit - 1) / unit;
    if (writer.resumed())
      std::cerr << fmt::format("resuming {}: {} of {} prompts done\n", writer.partial_path().string(), c.prompts, n);
    ProgressBar bar(static_cast<int64_t>(n), {.label = "synth", .unit = "prompts", .tty = stdout_is_terminal()}, std::cerr);
    for (size_t u = static_cast<size_t>(writer.units_done()); u < units; ++u) {
      const size_t begin = u * unit, end = std::min(n, begin + unit);
      std::string lines = synth.chunk(begin, end, c);
      writer.commit_unit(lines, static_cast<int64_t>(u + 1), c.to_json());
      bar.update(static_cast<int64_t>(end));
    }
    bar.finish();
    writer.finish();

    Json report = c.to_json();
    report["mode"] = best_of_n ? "best_of_n" : "contrast";
    report["generator"] = gen->name();
    if (scorer) report["judge"] = scorer->name();
    std::vector<std::string> warnings, own;
    if (scorer && scorer->name() == gen->name())
      own.push_back("the same model generated the candidates and judged them: its own preferences are distilled twice; judge with "
                    "another model or a verifier");
    if (c.pairs == 0) own.push_back("no pair was kept: see dropped");
    warnings = own;
    if (c.pairs > 0) {
      report["bias"] = data::bias_report(out);
      for (const auto& w : report["bias"]["warnings"]) warnings.push_back(w.get<std::string>());
    }
    report["warnings"] = warnings;
    write_json_file(out.string() + ".report.json", report);
    std::cout << fmt::format("{} prompts, {} pairs kept ({} rows) in {}", c.prompts, c.pairs, c.rows, out.string());
    for (const auto& [why, k] : c.dropped) std::cout << fmt::format(", {} dropped ({})", k, why);
    std::cout << "\n";
    if (report.contains("bias")) std::cout << data::format_bias_report(report["bias"]);
    for (const auto& w : own) std::cout << "warning: " << w << "\n";
  });
}

}  // namespace prefer::cli
