// The pieces of `prefer dpo` below the flag parsing, so that tests and `prefer demo` run the same code.
#pragma once

#include <ostream>

#include "cli/option_set.h"
#include "util/json.h"

namespace prefer::cli {

// Every option of `prefer dpo` with TRL's name, type, default and help.
OptionSet dpo_option_set();

struct DpoRunSummary {
  std::filesystem::path output_dir, final_dir;
  int64_t steps = 0;
  double seconds = 0;
  Json last_train, last_eval;  // the last metrics rows
  std::vector<Json> warnings;
};

// Runs DPO from resolved options (the JSON of dpo_option_set().resolve()). Writes the run folder.
DpoRunSummary run_dpo(const Json& options, std::ostream& out);

}  // namespace prefer::cli
