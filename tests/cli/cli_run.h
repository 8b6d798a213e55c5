// Runs the built prefer executable and captures its output and exit code (e2e tests).
#pragma once

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <string>

namespace prefer::test {

struct RunResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};

inline RunResult run_prefer(const std::string& args) {
  std::string cmd = std::string(PREFER_BINARY) + " " + args + " 2>&1";
  RunResult r;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return r;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) r.output.append(buf.data(), n);
  int status = ::pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

}  // namespace prefer::test
