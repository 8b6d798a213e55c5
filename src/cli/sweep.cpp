// `prefer sweep --param beta --values 0.05,0.1,0.5 --output_dir OUT [eval options] -- dpo --model M ...`:
// the seed's beta sweep in one command. Runs the trainer once per value into OUT/<param>=<value>/ (each
// a prefer process of its own; a finished run is kept, an interrupted one resumes from its latest
// checkpoint), evaluates each run against the same reference with the same eval options, and writes
// OUT/sweep.json with the table the seed asks for (accuracy, win rate, capability change per value) and
// the best run named.
#include <fmt/format.h>
#include <unistd.h>

#include <iostream>
#include <sstream>

#include "cli/command.h"
#include "cli/eval_run.h"
#include "util/atomic_file.h"
#include "util/error.h"
#include "util/json.h"

namespace prefer::cli {
namespace fs = std::filesystem;

namespace {

const std::vector<std::string> kTrainers = {"dpo", "kto", "orpo", "cpo"};

std::string quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

// The value of `--name X` or `--name=X` in the trainer's arguments, if given.
std::optional<std::string> arg_value(const std::vector<std::string>& args, const std::string& name) {
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--" + name && i + 1 < args.size()) return args[i + 1];
    if (args[i].rfind("--" + name + "=", 0) == 0) return args[i].substr(name.size() + 3);
  }
  return std::nullopt;
}

// The number a run is ranked by: the length-controlled win rate when there is one, else the adjusted
// win rate, else held-out accuracy.
std::pair<std::string, std::optional<double>> score_of(const Json& e) {
  if (e.contains("length_controlled_win_rate") && e.value("judged", 0) > 0) return {"length_controlled_win_rate", e["length_controlled_win_rate"].get<double>()};
  if (e.contains("preference_accuracy")) return {"preference_accuracy", e["preference_accuracy"]["accuracy"].get<double>()};
  return {"", std::nullopt};
}

std::string cell(const Json& v, const char* fmt_spec) { return v.is_number() ? fmt::format(fmt::runtime(fmt_spec), v.get<double>()) : "-"; }

}  // namespace

void add_sweep_command(CLI::App& app, GlobalOptions& g) {
  struct Options {
    std::string param, values, output_dir;
    EvalOptions eval;
    std::vector<std::string> trainer;
  };
  auto o = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand("sweep", "Train once per value of one option (beta), evaluate each run, compare");
  cmd->add_option("--param", o->param, "The trainer option to sweep")->required();
  cmd->add_option("--values", o->values, "Its values, comma-separated (0.05,0.1,0.5,1.0)")->required();
  cmd->add_option("--output_dir", o->output_dir, "Holds one run folder per value and sweep.json")->required();
  cmd->add_option("--reference", o->eval.reference, "The model every run is evaluated against [default: the trainer's --model]");
  add_eval_options(cmd, o->eval);
  cmd->add_option("trainer", o->trainer, "After --: the trainer and its options (dpo --model M --data F ...)")->expected(-1);
  cmd->callback([o, &g] {
    apply_global_options(g);
    std::vector<std::string> t = o->trainer;
    if (!t.empty() && t[0] == "prefer") t.erase(t.begin());
    if (t.empty() || std::find(kTrainers.begin(), kTrainers.end(), t[0]) == kTrainers.end())
      throw Error("needs the trainer after --, e.g. `-- dpo --model M --data F` (one of dpo, kto, orpo, cpo)", {.field = "trainer"});
    const std::string trainer = t[0];
    std::vector<std::string> targs(t.begin() + 1, t.end());
    for (const std::string& own : {o->param, std::string("output_dir"), std::string("resume_from_checkpoint")})
      if (arg_value(targs, own)) throw Error("is set by prefer sweep for each run; leave it out of the trainer's options", {.field = own});
    std::vector<std::string> values;
    std::stringstream ss(o->values);
    for (std::string v; std::getline(ss, v, ',');)
      if (!v.empty()) values.push_back(v);
    if (values.empty()) throw Error("needs at least one value", {.field = "values"});
    EvalOptions base = o->eval;
    if (base.reference.empty()) {
      auto m = arg_value(targs, "model");
      if (!m) throw Error("needs --reference, or a --model in the trainer's options to compare against", {.field = "reference"});
      base.reference = *m;
    }
    check_eval_options(base);
    const fs::path out = o->output_dir;
    fs::create_directories(out);
    const std::string exe = self_executable();

    Json runs = Json::array();
    for (const auto& v : values) {
      const fs::path run = out / (o->param + "=" + v);
      if (!fs::exists(run / "final")) {
        std::string cmdline = quote(exe) + " " + trainer;
        for (const auto& a : targs) cmdline += " " + quote(a);
        cmdline += " --" + o->param + " " + quote(v) + " --output_dir " + quote(run.string());
        bool has_checkpoint = false;
        if (fs::exists(run))
          for (const auto& e : fs::directory_iterator(run)) has_checkpoint |= e.path().filename().string().rfind("checkpoint-", 0) == 0;
        if (has_checkpoint) cmdline += " --resume_from_checkpoint latest";
        std::cerr << fmt::format("sweep: {}={}: {}training\n", o->param, v, has_checkpoint ? "resuming " : "");
        std::cout.flush();
        const int status = std::system(cmdline.c_str());
        if (status != 0)
          throw Error(fmt::format("the {} run for {}={} failed (status {}); re-running the sweep resumes it", trainer, o->param, v, status),
                      {.file = run.string()});
      } else {
        std::cerr << fmt::format("sweep: {}={}: already trained\n", o->param, v);
      }
      EvalOptions e = base;
      e.model = run.string();
      std::cerr << fmt::format("sweep: {}={}: evaluating\n", o->param, v);
      Json result = run_eval(e, run / "eval");
      runs.push_back({{"value", v}, {"run", run.string()}, {"eval", result}});
    }

    // The table and the best run.
    std::string table = fmt::format("{:<14} {:>9} {:>9} {:>9} {:>12}\n", o->param, "accuracy", "win rate", "LC win", "MC change");
    std::optional<size_t> best;
    std::string ranked_by;
    for (size_t i = 0; i < runs.size(); ++i) {
      const Json& e = runs[i]["eval"];
      Json mc_delta;
      if (e.contains("capability") && e["capability"].contains("mc_accuracy_reference"))
        mc_delta = e["capability"]["mc_accuracy_model"].get<double>() - e["capability"]["mc_accuracy_reference"].get<double>();
      runs[i]["mc_accuracy_change"] = mc_delta;
      table += fmt::format("{:<14} {:>9} {:>9} {:>9} {:>12}\n", runs[i]["value"].get<std::string>(),
                           cell(e.contains("preference_accuracy") ? e["preference_accuracy"]["accuracy"] : Json(), "{:.3f}"),
                           cell(e.value("judged", 0) > 0 ? e["win_rate"] : Json(), "{:.3f}"),
                           cell(e.value("judged", 0) > 0 ? e["length_controlled_win_rate"] : Json(), "{:.3f}"), cell(mc_delta, "{:+.3f}"));
      auto [by, score] = score_of(e);
      if (!score) continue;
      // A run whose capability fell beyond max_regression is not a candidate.
      if (mc_delta.is_number() && -mc_delta.get<double>() > base.max_regression + 1e-12) continue;
      if (!best || *score > *score_of(runs[*best]["eval"]).second) best = i, ranked_by = by;
    }
    Json sweep = {{"param", o->param}, {"trainer", trainer}, {"reference", base.reference}, {"runs", runs},
                  {"best", best ? Json(runs[*best]["value"]) : Json()}, {"best_run", best ? Json(runs[*best]["run"]) : Json()},
                  {"ranked_by", ranked_by}};
    write_file_atomic(out / "sweep.json", sweep.dump(2) + "\n");
    std::cout << "\nprefer sweep: " << o->param << "\n" << table;
    if (best)
      std::cout << fmt::format("best: {}={} (by {}{}) in {}\n", o->param, runs[*best]["value"].get<std::string>(), ranked_by,
                               base.max_regression > 0 ? ", among runs within --max_regression" : "", runs[*best]["run"].get<std::string>());
    else
      std::cout << "no run could be ranked (no win rate or accuracy, or every run lost capability beyond --max_regression)\n";
    std::cout << "wrote " << (out / "sweep.json").string() << "\n";
  });
}

}  // namespace prefer::cli
