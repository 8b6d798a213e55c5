// prefer's entry point: CLI11 subcommands, one file each. Errors from any layer arrive here as
// prefer::Error and are printed once; nothing below cli/ exits the process.
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "cli/command.h"
#include "model/caching_allocator.h"
#include "train/trainer.h"
#include "util/error.h"
#include "util/startup_env.h"
#include "util/strings.h"

int main(int argc, char** argv) {
  // OMP_WAIT_POLICY=PASSIVE and glibc's huge-page malloc are read before main: set them and start
  // again once (util/startup_env.h); a user's own settings are kept.
  prefer::restart_with({}, argv);
  // Large CPU blocks are reused from step to step instead of faulted in again (model/caching_allocator.h).
  prefer::model::install_caching_allocator();
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
  add_sft_command(app, g);
  add_reward_command(app, g);
  add_score_command(app, g);
  add_kto_command(app, g);
  add_orpo_command(app, g);
  add_cpo_command(app, g);
  add_ppo_command(app, g);
  add_grpo_command(app, g);
  add_rloo_command(app, g);
  add_export_command(app, g);
  add_report_command(app, g);
  add_serve_command(app, g);
  add_eval_command(app, g);
  add_launch_command(app, g);
  add_sweep_command(app, g);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ExtrasError& e) {
    // Unknown flags: name the nearest valid one, as config files do for unknown keys.
    const CLI::App* cmd = &app;
    while (!cmd->get_subcommands().empty()) cmd = cmd->get_subcommands().back();
    std::vector<std::string> names;
    for (const CLI::Option* o : cmd->get_options())
      for (const auto& n : o->get_lnames()) names.push_back(n);
    for (const CLI::Option* o : app.get_options())
      for (const auto& n : o->get_lnames()) names.push_back(n);
    std::string msg = std::string("error: ") + e.what();
    // The message lists the unexpected arguments after ": "; only --names get a suggestion.
    std::string what = e.what();
    std::vector<std::string> extras;
    for (size_t p = what.find("--"); p != std::string::npos; p = what.find("--", p + 2))
      extras.push_back(what.substr(p, what.find(' ', p) == std::string::npos ? std::string::npos : what.find(' ', p) - p));
    for (const auto& arg : extras) {
      std::string name = arg.substr(2, arg.find('=') == std::string::npos ? std::string::npos : arg.find('=') - 2);
      std::string near = prefer::suggest_name(name, names);
      if (!near.empty()) msg += " (hint: did you mean --" + near + "?)";
    }
    std::cerr << msg << "\n";
    return 1;
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const ExitCode& e) {
    return e.code;
  } catch (const prefer::train::Interrupted& e) {
    if (!e.message.empty()) std::cerr << e.message << "\n";
    return e.exit_code;
  } catch (const prefer::Error& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "internal error: " << e.what() << "\n(please report this with the command you ran)\n";
    return 3;
  }
  return 0;
}
