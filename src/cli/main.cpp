// prefer's entry point: CLI11 subcommands, one file each. Errors from any layer arrive here as
// prefer::Error and are printed once; nothing below cli/ exits the process.
#include <unistd.h>

#include <cstdlib>
#include <iostream>

#include "cli/command.h"
#include "model/runtime.h"
#include "util/error.h"
#include "util/log.h"

namespace prefer::cli {

void apply_global_options(const GlobalOptions& g) {
  init_logging(g.log_level);
  model::set_num_threads(g.threads);
}

}  // namespace prefer::cli

int main(int argc, char** argv) {
  // OpenMP threads that busy-wait make a loaded machine (CI running two tests at once, a second job)
  // up to ~80x slower. libgomp reads OMP_WAIT_POLICY when it is loaded, before main, so set it and
  // start again once; a user's own setting is kept.
  if (std::getenv("OMP_WAIT_POLICY") == nullptr) {
    ::setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
    ::execv("/proc/self/exe", argv);  // on failure, carry on with the default policy
  }
  using namespace prefer::cli;
  CLI::App app{"prefer: align open-weight language models with human preferences (SFT, reward models,\n"
               "DPO and its family, PPO), from Hugging Face model folders and JSONL preference data."};
  app.require_subcommand(1);
  app.fallthrough();  // global options may also follow the subcommand
  GlobalOptions g;
  app.add_option("--threads", g.threads, "CPU threads for LibTorch (0 = all cores)")->check(CLI::NonNegativeNumber);
  app.add_option("--log_level", g.log_level, "trace, debug, info, warn, error or off");
  add_demo_command(app, g);
  add_inspect_command(app, g);
  add_data_command(app, g);
  add_tokenize_command(app, g);
  add_dpo_command(app, g);
  add_generate_command(app, g);
  add_logprobs_command(app, g);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const ExitCode& e) {
    return e.code;
  } catch (const prefer::Error& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "internal error: " << e.what() << "\n(please report this with the command you ran)\n";
    return 3;
  }
  return 0;
}
