// Settings that libraries read before main, which a program can only apply by starting itself again.
//
// - OMP_WAIT_POLICY=PASSIVE (libgomp): OpenMP threads that busy-wait make a loaded machine (CI running
//   two tests at once, a second job) up to ~80x slower.
// - glibc.malloc.hugetlb=1 (GLIBC_TUNABLES, glibc >= 2.35): malloc advises its heap and its mapped
//   blocks for transparent huge pages. LibTorch takes every CPU tensor from malloc, and a training
//   step frees and allocates gigabytes of activations, logits chunks and gradients; on 4 KiB pages
//   each comes back through page faults, the kernel zeroing every page. Measured at the benchmark's
//   sizes (bf16 DPO step, 135M): 3.75 million faults with 4 KiB pages, 12 thousand with huge pages,
//   and the step took half the time. Debian's default THP mode is "madvise", so nothing is huge unless
//   malloc asks. PREFER_HUGE_PAGES=0 turns this off.
//
// A user's own OMP_WAIT_POLICY or glibc.malloc.hugetlb is kept.
#pragma once

#include <optional>
#include <string>

namespace prefer {

struct StartupEnv {
  bool passive_omp = true;
  bool huge_pages = true;
};

// Sets what `want` asks for and the environment lacks, then execs /proc/self/exe with the same argv.
// Returns without exec when nothing changes, and when exec fails (the program runs on as it is).
void restart_with(const StartupEnv& want, char** argv);

// GLIBC_TUNABLES' value with glibc.malloc.hugetlb=1 added, or nullopt when `current` already sets
// glibc.malloc.hugetlb (kept as the user set it). `current` may be null (unset).
std::optional<std::string> tunables_with_huge_pages(const char* current);

// `current` without the glibc.malloc.hugetlb entry: for a child process that should run as users run
// it (a benchmark's eager PyTorch baseline).
std::string tunables_without_huge_pages(const char* current);

// Whether this process runs with glibc.malloc.hugetlb set (by restart_with or by the user).
bool huge_page_malloc();

}  // namespace prefer
