// Runs the built prefer executable and captures its output and exit code (e2e tests).
#pragma once

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>

namespace prefer::test {

struct RunResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};

// `env`: assignments put before the command ("NAME=value "), or empty.
inline RunResult run_prefer_env(const std::string& env, const std::string& args) {
  std::string cmd = env + std::string(PREFER_BINARY) + " " + args + " 2>&1";
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

inline RunResult run_prefer(const std::string& args) { return run_prefer_env("", args); }

// Starts `prefer <args>` and SIGKILLs it as soon as `marker` exists (e.g. a checkpoint's
// trainer_state.json, written last). Returns whether it was killed (false: it ended first or never
// wrote the marker within a minute).
inline bool kill_when_written(const std::string& args, const std::filesystem::path& marker) {
  pid_t pid = ::fork();
  if (pid == 0) {
    std::string cmd = std::string(PREFER_BINARY) + " " + args + " > /dev/null 2>&1";
    ::execl("/bin/sh", "sh", "-c", ("exec " + cmd).c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  bool killed = false;
  for (int i = 0; i < 12000 && !killed; ++i) {
    if (std::filesystem::exists(marker)) {
      ::kill(pid, SIGKILL);
      killed = true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return killed;
}

}  // namespace prefer::test
