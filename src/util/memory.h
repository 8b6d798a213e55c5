// What this process and machine have in memory, from the kernel: for memory plans and their checks.
#pragma once

#include <cstdint>

namespace prefer {

// Physical memory of this machine (sysconf), 0 when unknown.
uint64_t physical_memory_bytes();
// This process's resident set now (VmRSS) and its peak so far (VmHWM), from /proc/self/status; 0 when
// unknown.
uint64_t current_rss_bytes();
uint64_t peak_rss_bytes();

}  // namespace prefer
