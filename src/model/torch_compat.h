// The one place where LibTorch versions differ for us (Debian's 1.13 by default, any 2.x through
// CMAKE_PREFIX_PATH). Everything else includes this header instead of testing versions itself.
#pragma once

#include <torch/version.h>

// True when the LibTorch we compile against is at least major.minor.
#define PREFER_TORCH_AT_LEAST(major, minor) \
  (TORCH_VERSION_MAJOR > (major) || (TORCH_VERSION_MAJOR == (major) && TORCH_VERSION_MINOR >= (minor)))

namespace prefer::model::compat {

constexpr int kTorchMajor = TORCH_VERSION_MAJOR;
constexpr int kTorchMinor = TORCH_VERSION_MINOR;

}  // namespace prefer::model::compat
