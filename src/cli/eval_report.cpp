#include "cli/eval_report.h"

#include <fmt/format.h>

#include "util/atomic_file.h"
#include "util/strings.h"

namespace prefer::cli {


std::string samples_html(const std::vector<SampleRow>& samples, int64_t n, const Json& result) {
  std::string h =
      "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>prefer eval: samples</title>\n<style>"
      "body{font-family:system-ui,sans-serif;margin:2em;max-width:80em}"
      "table{border-collapse:collapse;width:100%}td,th{border:1px solid #ccc;padding:.5em;vertical-align:top;text-align:left}"
      "pre{white-space:pre-wrap;margin:0;font-family:inherit}.win{background:#e6f4e6}.loss{background:#fbe9e9}.tie{background:#f4f4f4}"
      "</style></head><body>\n<h1>Model and reference, side by side</h1>\n";
  if (result.contains("win_rate"))
    h += fmt::format("<p>Win rate {:.3f} (95% CI {:.3f}&ndash;{:.3f}), ties {:.3f}, losses {:.3f}; length-controlled {:.3f}; "
                     "{} prompts judged, {} judge errors.</p>\n",
                     result["win_rate"].get<double>(), result["win_rate_ci"][0].get<double>(), result["win_rate_ci"][1].get<double>(),
                     result["tie_rate"].get<double>(), result["loss_rate"].get<double>(), result["length_controlled_win_rate"].get<double>(),
                     result["judged"].get<int64_t>(), result["judge_errors"].get<int64_t>());
  h += "<table><thead><tr><th>#</th><th>Prompt</th><th>Model</th><th>Reference</th><th>Verdicts (model as A / as B)</th><th>Outcome</th></tr></thead><tbody>\n";
  for (size_t i = 0; i < samples.size() && static_cast<int64_t>(i) < n; ++i) {
    const SampleRow& s = samples[i];
    h += fmt::format("<tr class=\"{}\"><td>{}</td><td><pre>{}</pre></td><td><pre>{}</pre></td><td><pre>{}</pre></td><td>{} / {}</td><td>{}</td></tr>\n",
                     escape_html(s.outcome), i + 1, escape_html(s.question), escape_html(s.completion_model), escape_html(s.completion_reference),
                     escape_html(s.verdict_ab), escape_html(s.verdict_ba), escape_html(s.outcome));
  }
  h += "</tbody></table>\n</body></html>\n";
  return h;
}

void write_eval_outputs(const std::filesystem::path& dir, const Json& result, const std::vector<SampleRow>& samples, int64_t inspect) {
  if (!samples.empty()) {
    std::string jsonl;
    for (const auto& s : samples) {
      OrderedJson j = {{"prompt", s.prompt}, {"completion_model", s.completion_model}, {"completion_reference", s.completion_reference},
                       {"verdict_ab", s.verdict_ab}, {"verdict_ba", s.verdict_ba}, {"outcome", s.outcome}};
      if (!std::isnan(s.score_model) || !std::isnan(s.score_reference)) {
        j["score_model"] = std::isnan(s.score_model) ? OrderedJson() : OrderedJson(s.score_model);
        j["score_reference"] = std::isnan(s.score_reference) ? OrderedJson() : OrderedJson(s.score_reference);
      }
      jsonl += j.dump() + "\n";
    }
    write_file_atomic(dir / "samples.jsonl", jsonl);
    if (inspect > 0) write_file_atomic(dir / "samples.html", samples_html(samples, inspect, result));
  }
  write_file_atomic(dir / "eval.json", result.dump(2) + "\n");
}

std::string eval_summary(const Json& r) {
  std::string s;
  auto line = [&](const std::string& name, const std::string& value) { s += fmt::format("  {:<34} {}\n", name, value); };
  if (r.contains("preference_accuracy")) {
    const Json& p = r["preference_accuracy"];
    line("held-out preference accuracy", fmt::format("{:.3f} over {} pairs (band 0.70-0.90)", p["accuracy"].get<double>(), p["pairs"].get<int64_t>()));
    line("mean margin", fmt::format("{:.4f}", p["margin_mean"].get<double>()));
  }
  if (r.contains("win_rate")) {
    line("win / tie / loss", fmt::format("{:.3f} / {:.3f} / {:.3f} of {} judged ({} judge errors)", r["win_rate"].get<double>(), r["tie_rate"].get<double>(),
                                         r["loss_rate"].get<double>(), r["judged"].get<int64_t>(), r["judge_errors"].get<int64_t>()));
    line("win rate 95% interval", fmt::format("{:.3f} - {:.3f}", r["win_rate_ci"][0].get<double>(), r["win_rate_ci"][1].get<double>()));
    line("adjusted / length-controlled", fmt::format("{:.3f} / {:.3f} (0.55-0.65: a real improvement)", r["adjusted_win_rate"].get<double>(),
                                                     r["length_controlled_win_rate"].get<double>()));
    if (r.contains("single_score_model") && r["single_score_model"].is_number())
      line("single-answer grade (1-10)", fmt::format("{:.2f} model, {} reference ({} grade errors)", r["single_score_model"].get<double>(),
                                                      r["single_score_reference"].is_number() ? fmt::format("{:.2f}", r["single_score_reference"].get<double>()) : "-",
                                                      r["single_grade_errors"].get<int64_t>()));
    line("mean length model / reference", fmt::format("{:.0f} / {:.0f} characters", r["mean_length_model"].get<double>(), r["mean_length_reference"].get<double>()));
  }
  if (r.contains("capability")) {
    const Json& c = r["capability"];
    if (c.contains("mc_accuracy_model"))
      line("multiple-choice accuracy", fmt::format("{:.3f} model{}", c["mc_accuracy_model"].get<double>(),
                                                   c.contains("mc_accuracy_reference") ? fmt::format(", {:.3f} reference", c["mc_accuracy_reference"].get<double>()) : ""));
    if (c.contains("perplexity_model"))
      line("perplexity", fmt::format("{:.3f} model{}", c["perplexity_model"].get<double>(),
                                     c.contains("perplexity_reference") ? fmt::format(", {:.3f} reference", c["perplexity_reference"].get<double>()) : ""));
  }
  return "prefer eval\n" + s;
}

}  // namespace prefer::cli
