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

// One per command file (cli/<command>.cpp).
void add_demo_command(CLI::App& app, GlobalOptions& g);
void add_inspect_command(CLI::App& app, GlobalOptions& g);

}  // namespace prefer::cli
