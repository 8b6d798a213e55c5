// IEEE half precision to double, for float16 columns (Arrow FloatingPoint HALF, Parquet FLOAT16), and
// float to half (round to nearest even, as a hardware conversion), for GGUF's f16 tensors and block scales.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

namespace prefer::io {

inline double float16_to_double(uint16_t h) {
  const int exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
  const double v = exp == 0 ? std::ldexp(mant, -24) : exp == 31 ? (mant ? NAN : INFINITY) : std::ldexp(mant + 1024, exp - 25);
  return (h & 0x8000) ? -v : v;
}

inline uint16_t float_to_float16(float f) {
  uint32_t x;
  std::memcpy(&x, &f, sizeof x);
  const auto sign = static_cast<uint16_t>((x >> 16) & 0x8000);
  x &= 0x7fffffff;
  if (x >= 0x7f800000) return sign | (x > 0x7f800000 ? 0x7e00 : 0x7c00);  // NaN, infinity
  if (x >= 0x47800000) return sign | 0x7c00;                               // >= 65536: infinity
  if (x < 0x38800000)  // below 2^-14: a subnormal half, f / 2^-24 rounded to an even integer (exact scaling)
    return sign | static_cast<uint16_t>(std::nearbyint(std::fabs(f) * 16777216.0f));
  uint32_t h = (((x >> 23) - 112) << 10) | ((x & 0x7fffff) >> 13);
  const uint32_t rest = x & 0x1fff;
  if (rest > 0x1000 || (rest == 0x1000 && (h & 1))) ++h;  // a carry into the exponent is the right result
  return static_cast<uint16_t>(sign | h);
}

}  // namespace prefer::io
