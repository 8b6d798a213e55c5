// What every subcommand shares: global options and the registration functions of each command file.
#pragma once

#include <CLI/CLI.hpp>

#include <string>

namespace prefer::cli {

struct GlobalOptions {
  int threads = 0;                 // 0 = every core
  std::string log_level = "info";
};

// Applies the global options (logging, LibTorch threads). Every command calls it first.
void apply_global_options(const GlobalOptions& g);

// Thrown by a command that finished its work but must exit with a status other than 0 (e.g.
// `data validate` found errors: 1; could not read its input: 2). Caught in main.
struct ExitCode {
  int code;
};

// A boolean option with the rule every command follows: `--x`, `--x true|false` and `--x=false` (also
// 1/0, yes/no, True/False); anything else is an error naming the option.
CLI::Option* add_bool_option(CLI::App* cmd, const std::string& name, bool& target, const std::string& help);

// The running prefer executable's path (/proc/self/exe), for the commands that run prefer again (demo's
// stages, sweep's trainers).
std::string self_executable();

// One per command file (cli/<command>.cpp).
void add_demo_command(CLI::App& app, GlobalOptions& g);
void add_inspect_command(CLI::App& app, GlobalOptions& g);
void add_data_command(CLI::App& app, GlobalOptions& g);
void add_launch_command(CLI::App& app, GlobalOptions& g);
void add_tokenize_command(CLI::App& app, GlobalOptions& g);
void add_dpo_command(CLI::App& app, GlobalOptions& g);
void add_generate_command(CLI::App& app, GlobalOptions& g);
void add_logprobs_command(CLI::App& app, GlobalOptions& g);
void add_sft_command(CLI::App& app, GlobalOptions& g);
void add_reward_command(CLI::App& app, GlobalOptions& g);
void add_score_command(CLI::App& app, GlobalOptions& g);
void add_kto_command(CLI::App& app, GlobalOptions& g);
void add_orpo_command(CLI::App& app, GlobalOptions& g);
void add_cpo_command(CLI::App& app, GlobalOptions& g);
void add_serve_command(CLI::App& app, GlobalOptions& g);
void add_eval_command(CLI::App& app, GlobalOptions& g);
void add_sweep_command(CLI::App& app, GlobalOptions& g);
void add_ppo_command(CLI::App& app, GlobalOptions& g);
void add_grpo_command(CLI::App& app, GlobalOptions& g);
void add_rloo_command(CLI::App& app, GlobalOptions& g);
void add_export_command(CLI::App& app, GlobalOptions& g);
void add_report_command(CLI::App& app, GlobalOptions& g);

}  // namespace prefer::cli
