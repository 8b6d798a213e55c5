// The one place where LibTorch versions differ for us (Debian's 1.13 by default, any 2.x through
// CMAKE_PREFIX_PATH). Everything else includes this header instead of testing versions itself.
#pragma once

#include <torch/version.h>

// True when the LibTorch we compile against is at least major.minor.
#define PREFER_TORCH_AT_LEAST(major, minor) \
  (TORCH_VERSION_MAJOR > (major) || (TORCH_VERSION_MAJOR == (major) && TORCH_VERSION_MINOR >= (minor)))

// Fused attention. LibTorch >= 2.1 has the public at::scaled_dot_product_attention with a `scale`
// argument and flash / memory-efficient kernels on CUDA that accept an additive float mask. 1.13 only
// has the private at::_scaled_dot_product_attention, whose math fallback soft-maxes in the compute dtype
// (not float32 as transformers does) and turns a fully masked row into NaN, so 1.13 (and every CPU run)
// uses the explicit path in attention.cpp.
#if PREFER_TORCH_AT_LEAST(2, 1)
#include <ATen/core/Tensor.h>
#include <ATen/ops/scaled_dot_product_attention.h>
#define PREFER_HAS_FUSED_SDPA 1
#else
#define PREFER_HAS_FUSED_SDPA 0
#endif

// c10d (train/distributed.cpp). 2.x process groups derive from Backend instead of ProcessGroup; prefer
// only holds c10d::ProcessGroupGloo itself, whose calls are the same in both. TCPStore's libuv server
// became the default in 2.4 and needs a libuv-enabled build: prefer asks for the classic one.
#define PREFER_TCPSTORE_HAS_LIBUV PREFER_TORCH_AT_LEAST(2, 4)

// c10::Allocator (model/caching_allocator.cpp): allocate() lost its `const` in 2.3 and copy_data()
// became pure virtual; the caching allocator defines both forms, so no macro is needed.

namespace prefer::model::compat {

constexpr int kTorchMajor = TORCH_VERSION_MAJOR;
constexpr int kTorchMinor = TORCH_VERSION_MINOR;

#if PREFER_HAS_FUSED_SDPA
// softmax(q k^T * scale + mask) v; q [B, H, Tq, D], k/v [B, H, Tk, D], mask [B, 1, Tq, Tk] in q's dtype.
inline at::Tensor fused_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& mask,
                                  double scale) {
  return at::scaled_dot_product_attention(q, k, v, mask, 0.0, false, scale);
}
#endif

}  // namespace prefer::model::compat
