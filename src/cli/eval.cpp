// `prefer eval --model M [--adapter A] --reference R ...`: did alignment work? Held-out preference
// accuracy (--data), a judged win rate against the reference with positions swapped (--prompts and
// --judge), a capability check (--capability, --perplexity_data) and answers side by side for a person
// (--inspect N). Writes D/eval.json (every number, the settings, data hashes), D/samples.jsonl and
// D/samples.html, and prints a summary with the seed's warnings.
#include <filesystem>

#include "cli/command.h"
#include "cli/eval_run.h"
#include "util/error.h"

namespace prefer::cli {
namespace fs = std::filesystem;

void add_eval_command(CLI::App& app, GlobalOptions& g) {
  auto o = std::make_shared<EvalOptions>();
  CLI::App* cmd = app.add_subcommand("eval", "Did alignment work? Held-out accuracy, judged win rate, capability check");
  cmd->add_option("--model", o->model, "The aligned model: folder, run folder or PEFT adapter")->required();
  cmd->add_option("--adapter", o->adapter, "A PEFT adapter applied on top of --model");
  cmd->add_option("--reference", o->reference, "The model to compare against (usually the SFT model)");
  cmd->add_option("--output_dir", o->output_dir, "Where eval.json and samples go [default: <run>/eval when --model is a run folder]");
  add_eval_options(cmd, *o);
  cmd->callback([o, &g] {
    apply_global_options(g);
    check_eval_options(*o);
    fs::path out_dir = o->output_dir;
    if (out_dir.empty()) {
      const fs::path m = o->model;
      if (!fs::exists(m / "config.json") && !fs::exists(m / "adapter_config.json") && fs::exists(m / "final")) out_dir = m / "eval";
      else throw Error("needs --output_dir (it defaults to <run>/eval only when --model is a run folder)", {.field = "output_dir"});
    }
    run_eval(*o, out_dir);
  });
}

}  // namespace prefer::cli
