// ATen's intra-op parallelism for prefer's own kernels. With LibTorch's OpenMP backend (Debian's and
// the official builds) at::parallel_for is inline in ATen's headers: its `#pragma omp parallel` is
// compiled into the caller, and a translation unit built without OpenMP runs the whole range on the
// calling thread. Until the build passed -fopenmp every fused, logit and attention kernel ran on one
// of the two cores while the other waited (a 135M bf16 DPO LoRA step on a 2-core Xeon: 13.2-13.5 s
// before, 12.4-12.6 s after; docs/performance.md, "Sixth round"). So kernels include this header, not
// <ATen/Parallel.h>, and a build that drops OpenMP fails here rather than quietly losing the threads.
#pragma once

#include <ATen/Config.h>
#include <ATen/Parallel.h>

#if AT_PARALLEL_OPENMP && !defined(_OPENMP)
#error "at::parallel_for needs this file compiled with OpenMP (CMake links OpenMP::OpenMP_CXX to prefer_model)"
#endif
