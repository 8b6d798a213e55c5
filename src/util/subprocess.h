// Runs a user's program with `sh -c`, feeding it text on stdin and collecting its stdout, with a time
// limit: the transport of the external-program protocol (scripted judges now; rewards and verifiers
// later). Writing and reading go on together, so a program that answers while it reads cannot dead-lock.
#pragma once

#include <string>

namespace prefer {

struct ProgramResult {
  int exit_code = 0;       // -1: killed by a signal
  std::string out;         // everything it wrote on stdout
  std::string err;         // the last few KB of stderr, for messages
  bool timed_out = false;  // killed after the time limit
};

// Runs `command` through /bin/sh -c with `input` on stdin (closed after it). Kills the process group
// after `timeout_s` seconds. Throws prefer::Error when the program cannot be started.
ProgramResult run_program(const std::string& command, const std::string& input, double timeout_s);

}  // namespace prefer
