// Shared by the benchmarks: a value from this process's /proc/self/status, in kB (VmRSS:, VmHWM:).
#pragma once

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <string>

inline int64_t status_kb(const char* key) {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind(key, 0) == 0) return std::atoll(line.c_str() + std::string(key).size());
  return -1;
}
