// `prefer report RUN_DIR [RUN_DIR ...] [--output F]`: report.html for any run folder (finished,
// interrupted or still running), or several side by side. Training commands write one at their end.
#include <iostream>

#include "cli/command.h"
#include "cli/run_report.h"
#include "util/error.h"

namespace prefer::cli {

void add_report_command(CLI::App& app, GlobalOptions& g) {
  struct Options {
    std::vector<std::string> runs;
    std::string output;
  };
  auto o = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand("report", "Write report.html (curves, checks, warnings, eval) for one or more run folders");
  cmd->add_option("runs", o->runs, "Run folders (a training command's --output_dir)")->required();
  cmd->add_option("--output", o->output, "The HTML file (default: RUN_DIR/report.html for one run; required for several)");
  cmd->callback([o, &g] {
    apply_global_options(g);
    std::vector<std::filesystem::path> runs(o->runs.begin(), o->runs.end());
    if (o->output.empty() && runs.size() > 1)
      throw Error("several runs need --output", {.field = "output", .hint = "e.g. --output sweep.html"});
    const std::filesystem::path out = o->output.empty() ? runs.front() / "report.html" : std::filesystem::path(o->output);
    write_run_report(runs, out);
    std::cout << "report: " << out.string() << "\n";
  });
}

}  // namespace prefer::cli
