#include "model/runtime.h"

#include <ATen/Context.h>
#include <ATen/Parallel.h>

#include <thread>

#include "model/torch_compat.h"

namespace prefer::model {

void set_num_threads(int n) {
  if (n <= 0) n = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  at::set_num_threads(n);
}

int num_threads() { return at::get_num_threads(); }

std::string torch_version() {
  return std::to_string(compat::kTorchMajor) + "." + std::to_string(compat::kTorchMinor) + "." +
         std::to_string(TORCH_VERSION_PATCH);
}

bool cuda_available() { return at::hasCUDA(); }

}  // namespace prefer::model
