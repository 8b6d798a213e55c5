// Scalar building blocks of the fused CPU kernels (fused_kernels.cpp, logit_kernels.cpp): bf16 bits
// <-> float32, a vectorisable exp, a 16-accumulator dot product. Written so that GCC vectorises the
// loops that inline them; every file that includes this header must be compiled with
// -fno-trapping-math -fno-math-errno (src/model/CMakeLists.txt), or the selects stay branches and the
// loops run scalar.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

// One copy of each loop per instruction set, picked when the program loads (GCC's ifunc clones).
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define PREFER_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define PREFER_CLONES
#endif
#define PREFER_INLINE inline __attribute__((always_inline))

namespace prefer::model::fused::detail {

using bf16_t = uint16_t;  // bfloat16 bits

PREFER_INLINE float load(float v) { return v; }
PREFER_INLINE float load(bf16_t v) {
  const uint32_t u = static_cast<uint32_t>(v) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
// Round to nearest even; a NaN stays a (quiet) NaN.
PREFER_INLINE bf16_t to_bf(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  const uint32_t r = (u + 0x7FFFu + ((u >> 16) & 1u)) >> 16;
  return f != f ? static_cast<bf16_t>(0x7FC0) : static_cast<bf16_t>(r);
}
PREFER_INLINE void store(float* p, float v) { *p = v; }
PREFER_INLINE void store(bf16_t* p, float v) { *p = to_bf(v); }
// x rounded to the storage type T (identity for float).
PREFER_INLINE float round_as(float x, float*) { return x; }
PREFER_INLINE float round_as(float x, bf16_t*) { return load(to_bf(x)); }

// exp for the vectorised loops (Cephes' expf: range reduction by ln 2, degree-5 polynomial; within
// 2 ulp of float32's exp, far below bf16's resolution).
PREFER_INLINE float exp_approx(float x_in) {
  const float x = std::min(std::max(x_in, -87.0f), 88.0f);
  const float n = std::floor(x * 1.44269504088896341f + 0.5f);
  const float r = x - n * 0.693359375f + n * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const float e = p * r * r + r + 1.0f;
  const uint32_t bits = static_cast<uint32_t>(static_cast<int32_t>(n) + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, 4);
  // Past the clamps: exp overflows to inf and underflows to 0 (so silu(-100) is -0, not -6e-37).
  const float v = x_in > 88.0f ? std::numeric_limits<float>::infinity() : e * scale;
  return x_in < -87.0f ? 0.0f : v;
}
PREFER_INLINE float sigmoid(float x) { return 1.0f / (1.0f + exp_approx(-x)); }

// Sum of x[i] y[i] with 16 independent accumulators (a reduction GCC vectorises without -ffast-math).
template <class A, class B>
PREFER_INLINE float dot(const A* x, const B* y, int64_t n) {
  float acc[16] = {};
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    for (int k = 0; k < 16; ++k) acc[k] += load(x[i + k]) * load(y[i + k]);
  float s = 0;
  for (; i < n; ++i) s += load(x[i]) * load(y[i]);
  for (int k = 0; k < 16; ++k) s += acc[k];
  return s;
}

}  // namespace prefer::model::fused::detail
