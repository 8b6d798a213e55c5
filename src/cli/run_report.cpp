#include "cli/run_report.h"

#include <fmt/format.h>

#include <cmath>
#include <map>
#include <optional>
#include <set>

#include "cli/run_health.h"
#include "train/metrics_log.h"
#include "train/trainer.h"
#include "util/atomic_file.h"
#include "util/error.h"
#include "util/file.h"
#include "util/json.h"
#include "util/strings.h"
#include "util/svg_chart.h"
#include "util/yaml.h"

namespace prefer::cli {
namespace fs = std::filesystem;

namespace {

struct RunView {
  fs::path dir;
  std::string name;
  std::vector<train::MetricRow> rows;
  std::vector<train::TrainingWarning> warnings;
  Json config;  // config.yaml, or null
  std::string status;
  std::optional<int64_t> total_steps;
  Json eval;  // eval/eval.json, or null
  std::vector<Json> samples;
  Json data, memory, run;  // data.json, memory.json, run.json (written by the training command), or null
};

// The complete lines of a JSONL file that may still be growing: a last line without its newline is
// being written and is left out; a complete line that does not parse is an error naming file and line.
template <class F>
void each_complete_line(const fs::path& path, F&& f) {
  if (!fs::exists(path)) return;
  const std::string text = read_file(path);
  size_t start = 0;
  int64_t line = 0;
  for (size_t nl = text.find('\n'); nl != std::string::npos; start = nl + 1, nl = text.find('\n', start)) {
    ++line;
    const std::string_view s(text.data() + start, nl - start);
    if (s.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    const ErrorContext ctx{.file = path.string(), .line = line};
    Json j;
    try {
      j = Json::parse(s);
    } catch (const std::exception& e) {
      throw Error(std::string("not valid JSON: ") + e.what(), ctx);
    }
    f(j, ctx);
  }
}

RunView load_run(const fs::path& dir) {
  if (!fs::is_directory(dir) || (!fs::exists(dir / "metrics.jsonl") && !fs::exists(dir / "config.yaml")))
    throw Error("not a run folder", {.file = dir.string(), .hint = "a run folder (a training command's --output_dir) holds metrics.jsonl and config.yaml"});
  RunView r;
  r.dir = dir;
  r.name = fs::absolute(dir).lexically_normal().filename().string();
  if (r.name.empty()) r.name = fs::absolute(dir).lexically_normal().parent_path().filename().string();
  each_complete_line(dir / "metrics.jsonl", [&](const Json& j, const ErrorContext& c) { r.rows.push_back(train::metric_row_from_json(j, c)); });
  each_complete_line(dir / "warnings.jsonl", [&](const Json& j, const ErrorContext& c) { r.warnings.push_back(train::TrainingWarning::from_json(j, c)); });
  if (fs::exists(dir / "config.yaml")) r.config = read_yaml_file(dir / "config.yaml");
  const fs::path ck = train::latest_checkpoint(dir);
  if (!ck.empty() && fs::exists(ck / "trainer_state.json")) {
    const Json st = read_json_file(ck / "trainer_state.json");
    if (st.contains("total_steps")) r.total_steps = st["total_steps"].get<int64_t>();
  }
  if (fs::exists(dir / "final")) r.status = "finished (final/ written)";
  else if (!ck.empty()) r.status = "not finished (interrupted or still running); last checkpoint: " + ck.filename().string();
  else r.status = "not finished (interrupted or still running); no checkpoint yet";
  if (fs::exists(dir / "eval" / "eval.json")) r.eval = read_json_file(dir / "eval" / "eval.json");
  for (auto [file, into] : {std::pair{"data.json", &r.data}, std::pair{"memory.json", &r.memory}, std::pair{"run.json", &r.run}})
    if (fs::exists(dir / file)) *into = read_json_file(dir / file);
  if (fs::exists(dir / "eval" / "samples.jsonl"))
    each_complete_line(dir / "eval" / "samples.jsonl", [&](const Json& j, const ErrorContext&) {
      if (r.samples.size() < 6) r.samples.push_back(j);
    });
  return r;
}

struct ChartSpec {
  std::string title;
  std::vector<std::string> keys;
};

// What a person looks at first, in this order; any other metric gets a chart of its own after these.
const std::vector<ChartSpec>& chart_specs() {
  static const std::vector<ChartSpec> specs = {
      {"Loss", {"loss"}},
      {"Rewards (chosen, rejected)", {"rewards/chosen", "rewards/rejected"}},
      {"Reward margins", {"rewards/margins"}},
      {"Reward accuracy", {"rewards/accuracies"}},
      {"Log-probabilities (chosen, rejected)", {"logps/chosen", "logps/rejected"}},
      {"Gradient norm", {"grad_norm"}},
      {"Learning rate", {"learning_rate", "lr"}},
      {"Token accuracy", {"mean_token_accuracy"}},
      {"Reward-model accuracy", {"accuracy"}},
      {"Reward-model margin", {"margin"}},
      {"PPO scores", {"objective/scores", "objective/rlhf_reward"}},
      {"PPO KL", {"objective/kl"}},
      {"Entropy", {"objective/entropy", "policy/entropy_avg", "entropy"}},
      {"Response length", {"completions/mean_length", "completions/min_length", "completions/max_length"}},
      {"Clip fractions", {"policy/clipfrac_avg", "val/clipfrac_avg"}},
      {"Reward (GRPO, RLOO)", {"reward", "reward_std"}},
  };
  return specs;
}

const std::set<std::string>& not_charted() {
  static const std::set<std::string> s = {"epoch", "num_tokens", "tokens_per_second", "episode"};
  return s;
}

std::vector<std::pair<double, double>> series_of(const RunView& r, const std::string& key, bool eval) {
  std::vector<std::pair<double, double>> p;
  for (const train::MetricRow& row : r.rows)
    if (row.is_eval() == eval && row.has(key)) p.emplace_back(static_cast<double>(row.step), row.at(key));
  return p;
}

std::string charts_html(const std::vector<RunView>& runs) {
  // Every warning is a numbered mark on every chart (W1, W2 ... as in the warnings table).
  std::vector<ChartMark> marks;
  for (const RunView& r : runs)
    for (const train::TrainingWarning& w : r.warnings)
      marks.push_back({.x = static_cast<double>(w.step), .label = fmt::format("W{}", marks.size() + 1),
                       .title = fmt::format("W{} {}{} at step {}: {}", marks.size() + 1, runs.size() > 1 ? r.name + ": " : "", w.id, w.step, w.message)});
  std::vector<ChartSpec> specs = chart_specs();
  std::set<std::string> covered;
  for (const ChartSpec& s : specs) covered.insert(s.keys.begin(), s.keys.end());
  std::set<std::string> more;
  for (const RunView& r : runs)
    for (const train::MetricRow& row : r.rows)
      for (const auto& [k, v] : row.values) {
        const std::string base = row.is_eval() && k.rfind("eval_", 0) == 0 ? k.substr(5) : k;
        if (!covered.count(base) && !not_charted().count(base) && !(row.is_eval() && k == "eval_loss")) more.insert(base);
      }
  for (const std::string& k : more) specs.push_back({k, {k}});

  std::string html = "<div class=\"charts\">\n";
  for (const ChartSpec& spec : specs) {
    std::vector<ChartSeries> series;
    size_t color = 0;
    for (const RunView& r : runs)
      for (const std::string& k : spec.keys) {
        const std::string prefix = runs.size() > 1 ? r.name + ": " : "";
        auto train = series_of(r, k, false), eval = series_of(r, "eval_" + k, true);
        if (train.empty() && eval.empty()) continue;
        const std::string& c = chart_color(color++);
        if (!train.empty()) series.push_back({.name = prefix + k, .points = std::move(train), .color = c});
        if (!eval.empty()) series.push_back({.name = prefix + "eval " + k, .points = std::move(eval), .color = c, .dashed = true});
      }
    if (series.empty()) continue;
    html += svg_line_chart(series, marks, {.title = spec.title});
  }
  return html + "</div>\n";
}

std::string num(double v, const char* f = "{:.4g}") { return std::isfinite(v) ? fmt::format(fmt::runtime(f), v) : "&ndash;"; }

std::string summary_html(const std::vector<RunView>& runs) {
  std::string h = "<table><tr><th>run</th><th>folder</th><th>status</th><th>last step</th><th>tokens/s (mean)</th><th>tokens</th><th>warnings</th></tr>\n";
  for (const RunView& r : runs) {
    int64_t last = 0;
    double tps = 0, tokens = NAN;
    int n = 0;
    for (const train::MetricRow& row : r.rows) {
      last = std::max(last, row.step);
      if (row.has("tokens_per_second") && std::isfinite(row.at("tokens_per_second"))) {
        tps += row.at("tokens_per_second");
        ++n;
      }
      if (row.has("num_tokens")) tokens = row.at("num_tokens");
    }
    h += fmt::format("<tr><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n", escape_html(r.name),
                     escape_html(r.dir.string()), escape_html(r.status), last, r.total_steps ? fmt::format(" of {}", *r.total_steps) : "",
                     n ? num(tps / n, "{:.1f}") : "&ndash;", num(tokens, "{:.0f}"), r.warnings.size());
  }
  return h + "</table>\n";
}

double field(const Json& j, const char* k);

// The data as the run read it (data.json), the memory estimate against the measured peak (memory.json,
// run.json) and the throughput: one row per run.
std::string resources_html(const std::vector<RunView>& runs) {
  std::string h =
      "<table><tr><th>run</th><th>data</th><th>examples (train / eval)</th><th>truncated / dropped</th><th>data notes</th>"
      "<th>memory: estimated peak</th><th>measured peak (RSS)</th><th>steps, seconds</th></tr>\n";
  for (const RunView& r : runs) {
    const Json& d = r.data;
    std::string files, notes;
    if (d.is_object()) {
      for (const Json& f : d.value("data", Json::array())) files += (files.empty() ? "" : ", ") + escape_html(f.get<std::string>());
      for (const Json& f : d.value("eval_data", Json::array())) files += "; eval " + escape_html(f.get<std::string>());
      for (const Json& w : d.value("warnings", Json::array())) notes += "<div>" + escape_html(w.get<std::string>()) + "</div>";
      files += " (" + escape_html(d.value("kind", "")) + (d.value("conversational", false) ? ", conversational" : "") + ")";
    }
    const Json& m = r.memory;
    const Json& run = r.run;
    const double peak = run.is_object() ? field(run, "peak_rss_bytes") : NAN;
    h += fmt::format("<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n", escape_html(r.name),
                     d.is_object() ? files : "&ndash;",
                     d.is_object() ? fmt::format("{} / {}", d.value("train_examples", 0), d.value("eval_examples", 0)) : "&ndash;",
                     d.is_object() ? fmt::format("{} / {}", d.value("truncated", 0), d.value("dropped", 0)) : "&ndash;", notes.empty() ? "none" : notes,
                     m.is_object() ? escape_html(m.value("estimate", "")) : "&ndash;",
                     std::isfinite(peak) && peak > 0 ? escape_html(format_bytes(peak)) : "&ndash;",
                     run.is_object() ? fmt::format("{}, {:.1f} s", run.value("steps", 0), field(run, "seconds")) : "&ndash;");
  }
  h += "</table>\n<p>The measured peak is the resident set of the training process (it includes the executable and "
       "LibTorch); the estimate counts weights, optimizer state, gradients and activations.</p>\n";
  // The validator's report of each training file (prefer data validate).
  for (const RunView& r : runs) {
    if (!r.data.is_object() || !r.data.contains("validation")) continue;
    for (const Json& v : r.data["validation"]) {
      h += "<h3>" + escape_html((runs.size() > 1 ? r.name + ": " : std::string()) + v.value("file", "")) + "</h3>\n";
      if (v.contains("not_validated")) {
        h += "<p>Not validated: " + escape_html(v["not_validated"].get<std::string>()) + "</p>\n";
        continue;
      }
      h += fmt::format("<p>{} records, {} valid, {} errors; {} data, {}.</p>\n", v.value("records", 0), v.value("valid", 0),
                       v.value("errors_total", 0), escape_html(v.value("kind", "")), escape_html(v.value("style", "")));
      const Json warnings = v.value("warnings", Json::array());
      if (warnings.empty()) {
        h += "<p>The validator raised no warning.</p>\n";
        continue;
      }
      h += "<table><tr><th>check</th><th>validator's warning</th></tr>\n";
      for (const Json& w : warnings)
        h += "<tr><td><code>" + escape_html(w.value("check", "")) + "</code></td><td>" + escape_html(w.value("message", "")) + "</td></tr>\n";
      h += "</table>\n";
    }
  }
  return h;
}

std::string health_html(const std::vector<RunView>& runs) {
  std::string h;
  for (const RunView& r : runs) {
    const std::vector<HealthCheck> checks = health_checks(r.rows);
    if (runs.size() > 1) h += "<h3>" + escape_html(r.name) + "</h3>\n";
    if (checks.empty()) {
      h += "<p>No metrics to judge yet.</p>\n";
      continue;
    }
    h += "<table class=\"health\"><tr><th>check</th><th>verdict</th><th>what the run shows</th></tr>\n";
    for (const HealthCheck& c : checks)
      h += fmt::format("<tr><td>{}</td><td class=\"v-{}\">{}</td><td>{}</td></tr>\n", escape_html(c.check), c.verdict == "n/a" ? "na" : c.verdict,
                       escape_html(c.verdict), escape_html(c.detail));
    h += "</table>\n";
  }
  return h;
}

std::string warnings_html(const std::vector<RunView>& runs) {
  std::string h = "<table><tr><th>mark</th>" + std::string(runs.size() > 1 ? "<th>run</th>" : "") + "<th>step</th><th>warning</th><th>what it means</th></tr>\n";
  size_t i = 0;
  for (const RunView& r : runs)
    for (const train::TrainingWarning& w : r.warnings)
      h += fmt::format("<tr><td>W{}</td>{}<td>{}</td><td><code>{}</code>{}</td><td>{}</td></tr>\n", ++i,
                       runs.size() > 1 ? "<td>" + escape_html(r.name) + "</td>" : "", w.step, escape_html(w.id), w.fatal ? " (fatal)" : "",
                       escape_html(w.message));
  if (i == 0) return "<p>No warning fired.</p>\n";
  return h + "</table>\n";
}

double field(const Json& j, const char* k) { return j.is_object() && j.contains(k) && j[k].is_number() ? j[k].get<double>() : NAN; }

std::string eval_html(const RunView& r) {
  const Json& e = r.eval;
  std::string h = "<table>";
  auto row = [&](const std::string& name, const std::string& value) { h += "<tr><td>" + name + "</td><td>" + value + "</td></tr>\n"; };
  const Json pa = e.value("preference_accuracy", Json::object());
  if (pa.is_object() && pa.contains("accuracy")) row("preference accuracy (held-out pairs)", num(field(pa, "accuracy"), "{:.3f}") + fmt::format(" over {} pairs", pa.value("pairs", 0)));
  if (e.contains("win_rate")) {
    std::string ci;
    if (e.contains("win_rate_ci") && e["win_rate_ci"].is_array() && e["win_rate_ci"].size() == 2)
      ci = fmt::format(" (95% interval {:.3f}&ndash;{:.3f})", e["win_rate_ci"][0].get<double>(), e["win_rate_ci"][1].get<double>());
    row("win / tie / loss against the reference", num(field(e, "win_rate"), "{:.3f}") + " / " + num(field(e, "tie_rate"), "{:.3f}") + " / " +
                                                        num(field(e, "loss_rate"), "{:.3f}") + ci);
    row("length-controlled win rate", num(field(e, "length_controlled_win_rate"), "{:.3f}"));
    row("mean length, model / reference", num(field(e, "mean_length_model"), "{:.1f}") + " / " + num(field(e, "mean_length_reference"), "{:.1f}"));
  }
  const Json cap = e.value("capability", Json::object());
  if (cap.is_object() && !cap.empty()) {
    const double a = field(cap, "mc_accuracy_model"), b = field(cap, "mc_accuracy_reference");
    if (std::isfinite(a)) row("capability: multiple-choice accuracy, model / reference (delta)", num(a, "{:.3f}") + " / " + num(b, "{:.3f}") + " (" + num(a - b, "{:+.3f}") + ")");
    const double p = field(cap, "perplexity_model"), q = field(cap, "perplexity_reference");
    if (std::isfinite(p)) row("capability: perplexity, model / reference (delta)", num(p, "{:.3f}") + " / " + num(q, "{:.3f}") + " (" + num(p - q, "{:+.3f}") + ")");
  }
  h += "</table>\n";
  if (!r.samples.empty()) {
    h += "<table class=\"samples\"><tr><th>prompt</th><th>model</th><th>reference</th><th>outcome</th></tr>\n";
    auto cell = [](const Json& s, const char* k) {
      std::string t = s.is_object() && s.contains(k) && s[k].is_string() ? s[k].get<std::string>() : "";
      if (t.size() > 800) t = t.substr(0, 800) + " ...";
      return "<td>" + escape_html(t) + "</td>";
    };
    for (const Json& s : r.samples)
      h += "<tr>" + cell(s, "prompt") + cell(s, "completion_model") + cell(s, "completion_reference") + cell(s, "outcome") + "</tr>\n";
    h += "</table>\n";
  }
  return h;
}

const char* kStyle = R"(body{font-family:sans-serif;margin:24px;color:#222;max-width:1500px}
h1{font-size:22px}h2{font-size:18px;margin-top:28px;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top;font-size:13px}
th{background:#f4f4f4}.charts{display:flex;flex-wrap:wrap;gap:10px}svg.chart{border:1px solid #eee}
.v-ok{color:#176f2c;font-weight:bold}.v-watch{color:#b00;font-weight:bold}.v-na{color:#777}
.samples td{max-width:420px;white-space:pre-wrap}pre{background:#f7f7f7;padding:8px;font-size:12px;overflow:auto})";

}  // namespace

std::string run_report_html(const std::vector<fs::path>& dirs) {
  if (dirs.empty()) throw Error("no run folder given", {.field = "runs"});
  std::vector<RunView> runs;
  for (const fs::path& d : dirs) runs.push_back(load_run(d));
  std::vector<std::string> names;
  for (const RunView& r : runs) names.push_back(r.name);
  std::string h = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>prefer report: " + escape_html(join(names, ", ")) +
                  "</title>\n<style>" + kStyle + "</style></head><body>\n";
  h += "<h1>prefer run report: " + escape_html(join(names, ", ")) + "</h1>\n";
  h += "<h2>Runs</h2>\n" + summary_html(runs);
  h += "<h2>Healthy-run checks</h2>\n" + health_html(runs);
  h += "<h2>Data, memory and time</h2>\n" + resources_html(runs);
  h += "<h2>Curves</h2>\n<p>Solid: train; dashed: eval. Red dashed lines: the steps where a warning fired (W1 ... as listed below; "
       "hover for its text).</p>\n" + charts_html(runs);
  h += "<h2>Warnings</h2>\n" + warnings_html(runs);
  for (const RunView& r : runs)
    if (!r.eval.is_null()) h += "<h2>Evaluation" + (runs.size() > 1 ? ": " + escape_html(r.name) : std::string()) + "</h2>\n" + eval_html(r);
  h += "<h2>Config</h2>\n";
  for (const RunView& r : runs)
    h += "<details><summary>" + escape_html(r.name) + ": config.yaml</summary><pre>" +
         escape_html(r.config.is_null() ? "(no config.yaml)" : to_yaml(r.config)) + "</pre></details>\n";
  return h + "</body></html>\n";
}

void write_run_report(const std::vector<fs::path>& runs, const fs::path& output) { write_file_atomic(output, run_report_html(runs)); }

}  // namespace prefer::cli
