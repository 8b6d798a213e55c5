// Process-wide LibTorch settings: thread count and what the build has (version, CUDA).
#pragma once

#include <string>

namespace prefer::model {

// Sets LibTorch's intra-op threads (and OpenMP's, which OpenBLAS uses). n <= 0 means every core.
// LibTorch starts at 1 thread on some machines, so every command calls this once, explicitly.
void set_num_threads(int n);
int num_threads();

// "1.13.0", "2.4.1" ...: the LibTorch we were compiled against.
std::string torch_version();
bool cuda_available();

}  // namespace prefer::model
