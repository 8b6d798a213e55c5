// `prefer data judge`: AI feedback on existing pairs (RLAIF), each judged twice with positions swapped
// (eval/position_swap.h: chosen first as A, then as B). Per pair, meta.judge holds both verdicts and the
// agreement:
//   chosen        A then B: the judge prefers the labelled chosen answer in both orders
//   rejected      B then A: it prefers the rejected one in both orders (--relabel swaps the pair)
//   tie           C twice
//   inconsistent  anything else (the same letter twice is position bias)
//   error         a verdict that could not be read
// --drop_inconsistent leaves out tie, inconsistent and error pairs. F.report.json has the counts and rates,
// the judge's self-consistency and the bias report of what was written; --sample N writes F.sample.html,
// a side-by-side page of N pairs (seeded) where judge and label disagree. Human-labelled data works the
// same way: an audit. Verdicts are cached, so a killed run asks nothing twice when run again.
#include <fmt/format.h>

#include <algorithm>
#include <iostream>
#include <random>

#include "cli/data_commands.h"
#include "cli/eval_run.h"
#include "data/bias_report.h"
#include "data/format.h"
#include "data/text_key.h"
#include "eval/position_swap.h"
#include "io/records.h"
#include "util/atomic_file.h"
#include "util/error.h"
#include "util/file.h"
#include "util/strings.h"

namespace prefer::cli {

namespace fs = std::filesystem;

namespace {

std::string agreement(eval::Verdict chosen_first, eval::Verdict chosen_second) {
  using eval::Verdict;
  if (chosen_first == Verdict::Error || chosen_second == Verdict::Error) return "error";
  if (chosen_first == Verdict::A && chosen_second == Verdict::B) return "chosen";
  if (chosen_first == Verdict::B && chosen_second == Verdict::A) return "rejected";
  if (chosen_first == Verdict::Tie && chosen_second == Verdict::Tie) return "tie";
  return "inconsistent";
}

OrderedJson content_value(const data::Content& c) {
  if (c.kind == data::Content::Kind::Messages) return c.messages;
  return data::plain_text(c);
}


std::string sample_html(const std::vector<OrderedJson>& rows, const std::vector<size_t>& picked, const Json& report) {
  std::string h =
      "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>prefer data judge: disagreements</title>\n<style>"
      "body{font-family:system-ui,sans-serif;margin:2em;max-width:90em}"
      "table{border-collapse:collapse;width:100%}td,th{border:1px solid #ccc;padding:.5em;vertical-align:top;text-align:left}"
      "pre{white-space:pre-wrap;margin:0;font-family:inherit}</style></head><body>\n<h1>Pairs where the judge and the label disagree</h1>\n";
  h += fmt::format("<p>{} of {} pairs: the judge preferred the labelled rejected answer in both orders ({}), or was inconsistent ({}). "
                   "Read each pair and decide who is right.</p>\n",
                   picked.size(), report["pairs"].get<int64_t>(), report["agreement"]["rejected"].get<int64_t>(),
                   report["agreement"]["inconsistent"].get<int64_t>());
  h += "<table><thead><tr><th>#</th><th>Prompt</th><th>Chosen (label)</th><th>Rejected (label)</th><th>Verdicts (chosen as A / as B)</th>"
       "<th>Judge</th></tr></thead><tbody>\n";
  auto text = [](const OrderedJson& v) {
    if (v.is_string()) return v.get<std::string>();
    std::string s;
    for (const auto& m : v)
      if (m.is_object()) s += m.value("role", "?") + ": " + (m.contains("content") && m["content"].is_string() ? m["content"].get<std::string>() : "") + "\n";
    return s;
  };
  for (size_t k = 0; k < picked.size(); ++k) {
    const OrderedJson& r = rows[picked[k]];
    const OrderedJson& j = r["meta"]["judge"];
    h += fmt::format("<tr><td>{}</td><td><pre>{}</pre></td><td><pre>{}</pre></td><td><pre>{}</pre></td><td>{} / {}</td><td>{}</td></tr>\n",
                     picked[k] + 1, escape_html(text(r["prompt"])), escape_html(text(r["chosen"])), escape_html(text(r["rejected"])),
                     escape_html(j["verdict_ab"].get<std::string>()), escape_html(j["verdict_ba"].get<std::string>()),
                     escape_html(j["agreement"].get<std::string>()));
  }
  return h + "</tbody></table>\n</body></html>\n";
}

}  // namespace

void add_data_judge(CLI::App* data_cmd, GlobalOptions& g) {
  struct Options {
    std::string data, output;
    bool relabel = false, drop_inconsistent = false, bf16 = false;
    int64_t sample = 0, seed = 0, batch_size = 8;
    EvalOptions judge;
  };
  auto o = std::make_shared<Options>();
  CLI::App* cmd = data_cmd->add_subcommand("judge", "Judge preference pairs twice with positions swapped (AI feedback, or an audit of labels)");
  cmd->add_option("--data", o->data, "Preference pairs (JSONL or a JSON array)")->required();
  cmd->add_option("--output", o->output, "The judged pairs (JSONL, meta.judge added); F.report.json beside it")->required();
  add_judge_options(cmd, o->judge);
  add_bool_option(cmd, "relabel", o->relabel, "Swap chosen and rejected where the judge prefers rejected in both orders");
  add_bool_option(cmd, "drop_inconsistent", o->drop_inconsistent, "Leave out pairs without a consistent verdict (ties, position bias, errors)");
  cmd->add_option("--sample", o->sample, "Write F.sample.html: N pairs where judge and label disagree, side by side")->check(CLI::NonNegativeNumber);
  cmd->add_option("--seed", o->seed, "Seed of the sample")->capture_default_str();
  cmd->add_option("--batch_size", o->batch_size, "Pairs per batch (reward-model judges)")->capture_default_str()->check(CLI::PositiveNumber);
  add_bool_option(cmd, "bf16", o->bf16, "Compute in bfloat16 (reward-model judges)");
  cmd->callback([o, &g] {
    apply_global_options(g);
    if (o->judge.judge.empty()) throw Error("needs a judge: rm:DIR, http:URL (with --judge_model) or cmd:PROGRAM", {.field = "judge"});
    if (o->judge.judge_mode != "pairwise") throw Error("prefer data judge compares the two answers of a pair: pairwise only", {.field = "judge_mode"});
    const data::Dataset ds = data::read_dataset(o->data);
    if (ds.kind != data::DatasetKind::Preference)
      throw Error("holds " + std::string(data::dataset_kind_name(ds.kind)) + " rows; prefer data judge needs pairs (chosen and rejected)",
                  {.file = o->data, .hint = ds.kind == data::DatasetKind::Unpaired ? "prefer data pair makes pairs of KTO rows" : ""});
    if (ds.pretokenized) throw Error("holds token ids; a judge reads text", {.file = o->data});
    // Strict reading keeps every record, so example i is record i.
    std::vector<io::Record> raw = io::read_records(o->data);
    o->judge.batch_size = o->batch_size;
    o->judge.bf16 = o->bf16;
    const fs::path out = o->output;
    const fs::path work = out.parent_path().empty() ? fs::path(".") : out.parent_path();
    std::unique_ptr<eval::Judge> judge = make_judge(o->judge, work);
    eval::JudgeCache cache(o->judge.no_judge_cache ? fs::path() : data::default_cache_dir() / "judge" / "verdicts.jsonl");

    std::vector<eval::Matchup> matchups;
    for (const auto& ex : ds.examples)
      matchups.push_back({.prompt = content_value(ex.prompt), .question = data::plain_text(ex.prompt),
                          .model_answer = data::plain_text(ex.chosen), .reference_answer = data::plain_text(ex.rejected)});
    const eval::PositionSwapResult verdicts = eval::judge_position_swapped(*judge, cache, matchups);

    std::map<std::string, int64_t> counts{{"chosen", 0}, {"rejected", 0}, {"tie", 0}, {"inconsistent", 0}, {"error", 0}};
    int64_t relabeled = 0, dropped = 0;
    std::vector<OrderedJson> kept;
    std::vector<size_t> disagree;  // indices into kept
    std::string generator;
    for (size_t i = 0; i < ds.examples.size(); ++i) {
      OrderedJson row = std::move(raw.at(i).value);
      if (row.contains("meta") && row["meta"].is_object() && row["meta"].contains("generator") && row["meta"]["generator"].is_string())
        generator = row["meta"]["generator"].get<std::string>();
      const std::string a = agreement(verdicts.model_first[i], verdicts.model_second[i]);
      ++counts[a];
      const bool flip = o->relabel && a == "rejected";
      if (o->drop_inconsistent && (a == "tie" || a == "inconsistent" || a == "error")) {
        ++dropped;
        continue;
      }
      if (flip) {
        std::swap(row["chosen"], row["rejected"]);
        ++relabeled;
      }
      if (!row.contains("meta") || !row["meta"].is_object()) row["meta"] = OrderedJson::object();
      row["meta"]["judge"] = {{"verdict_ab", eval::verdict_name(verdicts.model_first[i])},
                              {"verdict_ba", eval::verdict_name(verdicts.model_second[i])}, {"agreement", a}, {"relabeled", flip}};
      if (a == "rejected" || a == "inconsistent") disagree.push_back(kept.size());
      kept.push_back(std::move(row));
    }
    std::string text;
    for (const auto& r : kept) text += r.dump() + "\n";
    write_file_atomic(out, text);

    const int64_t n = static_cast<int64_t>(ds.examples.size());
    const int64_t judged = n - counts["error"];
    Json report{{"pairs", n}, {"judge", o->judge.judge + (o->judge.judge_model.empty() ? "" : " (" + o->judge.judge_model + ")")}, {"agreement", counts}, {"relabeled", relabeled}, {"dropped", dropped},
                {"written", kept.size()}};
    auto rate = [&](int64_t k) { return judged > 0 ? static_cast<double>(k) / static_cast<double>(judged) : 0.0; };
    report["rates"] = {{"agree_with_label", rate(counts["chosen"])}, {"prefer_rejected", rate(counts["rejected"])},
                       {"tie", rate(counts["tie"])}, {"inconsistent", rate(counts["inconsistent"])}};
    // Self-consistency: the same preference (or a tie) in both orders.
    report["self_consistency"] = rate(counts["chosen"] + counts["rejected"] + counts["tie"]);
    std::vector<std::string> warnings;
    const std::string judge_name = o->judge.judge.rfind("http", 0) == 0 ? "http:" + o->judge.judge_model : "";
    if (!generator.empty() && generator == judge_name)
      warnings.push_back("the pairs were generated by " + generator + ", the same model that judged them: its preferences are distilled twice");
    if (judged > 0 && rate(counts["inconsistent"]) > 0.2)
      warnings.push_back(fmt::format("the judge is inconsistent on {:.0f}% of pairs (its verdict follows the position): a stronger judge "
                                     "or a clearer judging prompt is needed", 100 * rate(counts["inconsistent"])));
    if (judged > 0 && rate(counts["rejected"]) > 0.2)
      warnings.push_back(fmt::format("the judge prefers the labelled rejected answer on {:.0f}% of pairs: check the labels (--sample 50 shows "
                                     "some), or --relabel", 100 * rate(counts["rejected"])));
    if (counts["error"] > 0) warnings.push_back(fmt::format("{} pairs got no readable verdict", counts["error"]));
    if (!kept.empty()) {
      report["bias"] = data::bias_report(out);
      for (const auto& w : report["bias"]["warnings"]) warnings.push_back(w.get<std::string>());
    }
    report["warnings"] = warnings;
    if (o->sample > 0) {
      std::vector<size_t> picked = disagree;
      std::mt19937_64 rng(static_cast<uint64_t>(o->seed));
      std::shuffle(picked.begin(), picked.end(), rng);
      picked.resize(std::min<size_t>(picked.size(), static_cast<size_t>(o->sample)));
      std::sort(picked.begin(), picked.end());
      write_file_atomic(out.string() + ".sample.html", sample_html(kept, picked, report));
      report["sample"] = picked.size();
    }
    write_json_file(out.string() + ".report.json", report);
    std::cout << fmt::format("{} pairs judged twice: label confirmed {}, judge prefers rejected {}, tie {}, inconsistent {}, no verdict {}; "
                             "{} relabeled, {} dropped, {} written to {}\n",
                             n, counts["chosen"], counts["rejected"], counts["tie"], counts["inconsistent"], counts["error"], relabeled, dropped,
                             kept.size(), out.string());
    for (const auto& w : warnings) std::cout << "warning: " << w << "\n";
  });
}

}  // namespace prefer::cli
