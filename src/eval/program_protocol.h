// The external-program protocol: a user's program is run with `sh -c CMD` once per batch, reads one
// JSON object per item on stdin (closed at the end of the batch) and writes exactly one line per item
// (a judge: A, B or C; a reward or verifier: a number). Another line count, a non-zero exit or running
// past the time limit is an error naming the program, and the item's line where one is at fault.
#pragma once

#include <string>
#include <vector>

#include "util/json.h"

namespace prefer::eval {

struct ProgramOptions {
  std::string command;
  double timeout_s = 600;  // --command_timeout
  std::string role = "judge";  // for messages: "judge", "reward", "verifier"
};

// Runs one batch; returns the program's lines (trailing spaces and a CR removed), one per item.
std::vector<std::string> run_protocol_batch(const ProgramOptions& program, const std::vector<OrderedJson>& items);

// Runs one batch of a reward or verifier program; each line must be a finite number (else an error naming
// the program and the line).
std::vector<double> run_scoring_batch(const ProgramOptions& program, const std::vector<OrderedJson>& items);

}  // namespace prefer::eval
