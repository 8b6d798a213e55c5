// Shared by the benchmarks.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "model/caching_allocator.h"
#include "util/startup_env.h"

// A value from this process's /proc/self/status, in kB (VmRSS:, VmHWM:).
inline int64_t status_kb(const char* key) {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind(key, 0) == 0) return std::atoll(line.c_str() + std::string(key).size());
  return -1;
}

// A comma-separated flag value as its non-empty items ("135m,360m,1b").
inline std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> v;
  std::stringstream ss(s);
  for (std::string x; std::getline(ss, x, ',');)
    if (!x.empty()) v.push_back(x);
  return v;
}

// Starts the benchmark again with the huge-page malloc that `prefer` runs with (util/startup_env.h) and
// installs its caching CPU allocator (model/caching_allocator.h),
// so its prefer side measures what the CLI does; OMP_WAIT_POLICY is left as it was. This process's
// malloc read the setting when it started, so it is then taken out of the environment again: the
// Python baselines started from here run as users run PyTorch, unless `baseline_huge_pages` (to see how
// much of a gap is the allocator). Returns whether this process runs with it.
inline bool bench_startup(char** argv, bool baseline_huge_pages = false) {
  prefer::restart_with({.passive_omp = false, .huge_pages = true}, argv);
  prefer::model::install_caching_allocator();  // as `prefer` does; PREFER_CACHING_ALLOCATOR=0 turns it off
  const bool on = prefer::huge_page_malloc();
  if (baseline_huge_pages) return on;
  const std::string rest = prefer::tunables_without_huge_pages(std::getenv("GLIBC_TUNABLES"));
  if (rest.empty()) ::unsetenv("GLIBC_TUNABLES");
  else ::setenv("GLIBC_TUNABLES", rest.c_str(), 1);
  return on;
}
