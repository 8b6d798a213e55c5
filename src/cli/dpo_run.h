// The pieces of `prefer dpo` below the flag parsing, so that tests and `prefer demo` run the same code.
#pragma once

#include <ostream>

#include "cli/option_set.h"
#include "cli/train_run.h"
#include "util/json.h"

namespace prefer::cli {

// Every option of `prefer dpo` with TRL's name, type, default and help.
OptionSet dpo_option_set();

using DpoRunSummary = RunSummary;

// Runs DPO from resolved options (the JSON of dpo_option_set().resolve()). Writes the run folder.
RunSummary run_dpo(const Json& options, std::ostream& out);

}  // namespace prefer::cli
