// The `prefer data` subcommands that make or relabel preference data (the others live in data.cpp).
#pragma once

#include <CLI/CLI.hpp>

#include "cli/command.h"

namespace prefer::cli {

// prefer data synth: system-prompt contrast pairs or best-of-N pairs from a local model or an endpoint.
void add_data_synth(CLI::App* data_cmd, GlobalOptions& g);
// prefer data judge: AI feedback on existing pairs, judged twice with positions swapped.
void add_data_judge(CLI::App* data_cmd, GlobalOptions& g);

}  // namespace prefer::cli
