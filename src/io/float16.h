// IEEE half precision to double, for float16 columns (Arrow FloatingPoint HALF, Parquet FLOAT16).
#pragma once

#include <cmath>
#include <cstdint>

namespace prefer::io {

inline double float16_to_double(uint16_t h) {
  const int exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
  const double v = exp == 0 ? std::ldexp(mant, -24) : exp == 31 ? (mant ? NAN : INFINITY) : std::ldexp(mant + 1024, exp - 25);
  return (h & 0x8000) ? -v : v;
}

}  // namespace prefer::io
