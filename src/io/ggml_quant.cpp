#include "io/ggml_quant.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "io/float16.h"
#include "util/error.h"

namespace prefer::io {
namespace {

uint16_t to_bf16(float f) {
  uint32_t x;
  std::memcpy(&x, &f, sizeof x);
  if ((x & 0x7fffffff) > 0x7f800000) return static_cast<uint16_t>((x >> 16) | 64);  // quiet NaN
  return static_cast<uint16_t>((x + (0x7fff + ((x >> 16) & 1))) >> 16);
}

float from_bf16(uint16_t h) {
  const uint32_t x = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &x, sizeof f);
  return f;
}

template <class T>
void put(std::string& s, T v) {
  s.append(reinterpret_cast<const char*>(&v), sizeof v);
}

template <class T>
T get(const std::string& s, size_t at) {
  T v;
  std::memcpy(&v, s.data() + at, sizeof v);
  return v;
}

}  // namespace

std::string ggml_encode(GgmlType type, const float* x, int64_t n) {
  if (n % ggml_block_size(type) != 0) throw Error("a multiple of " + std::to_string(ggml_block_size(type)) + " values is needed for " + std::string(ggml_type_name(type)));
  std::string s;
  s.reserve(static_cast<size_t>(n / ggml_block_size(type) * ggml_block_bytes(type)));
  switch (type) {
    case GgmlType::F32: s.append(reinterpret_cast<const char*>(x), static_cast<size_t>(n) * 4); break;
    case GgmlType::F16:
      for (int64_t i = 0; i < n; ++i) put(s, float_to_float16(x[i]));
      break;
    case GgmlType::BF16:
      for (int64_t i = 0; i < n; ++i) put(s, to_bf16(x[i]));
      break;
    case GgmlType::Q8_0:
      for (int64_t b = 0; b < n; b += 32) {
        float amax = 0;
        for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[b + j]));
        const float d = amax / 127, id = d != 0 ? 1.0f / d : 0.0f;
        put(s, float_to_float16(d));
        for (int j = 0; j < 32; ++j) put(s, static_cast<int8_t>(std::round(x[b + j] * id)));
      }
      break;
    case GgmlType::Q4_0:
      for (int64_t b = 0; b < n; b += 32) {
        float amax = 0, max = 0;
        for (int j = 0; j < 32; ++j)
          if (amax < std::fabs(x[b + j])) {
            amax = std::fabs(x[b + j]);
            max = x[b + j];
          }
        const float d = max / -8, id = d != 0 ? 1.0f / d : 0.0f;
        put(s, float_to_float16(d));
        for (int j = 0; j < 16; ++j) {
          const auto q0 = static_cast<uint8_t>(std::min<int8_t>(15, static_cast<int8_t>(x[b + j] * id + 8.5f)));
          const auto q1 = static_cast<uint8_t>(std::min<int8_t>(15, static_cast<int8_t>(x[b + 16 + j] * id + 8.5f)));
          put(s, static_cast<uint8_t>(q0 | (q1 << 4)));
        }
      }
      break;
  }
  return s;
}

std::vector<float> ggml_decode(GgmlType type, const std::string& s, int64_t n) {
  if (static_cast<int64_t>(s.size()) != ggml_nbytes(type, {n})) throw Error("data size does not match " + std::string(ggml_type_name(type)));
  std::vector<float> x(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const auto k = static_cast<size_t>(i);
    switch (type) {
      case GgmlType::F32: x[k] = get<float>(s, 4 * k); break;
      case GgmlType::F16: x[k] = static_cast<float>(float16_to_double(get<uint16_t>(s, 2 * k))); break;
      case GgmlType::BF16: x[k] = from_bf16(get<uint16_t>(s, 2 * k)); break;
      case GgmlType::Q8_0: {
        const size_t blk = k / 32 * 34;
        x[k] = static_cast<float>(get<int8_t>(s, blk + 2 + k % 32)) * static_cast<float>(float16_to_double(get<uint16_t>(s, blk)));
        break;
      }
      case GgmlType::Q4_0: {
        const size_t blk = k / 32 * 18, j = k % 32;
        const auto byte = get<uint8_t>(s, blk + 2 + j % 16);
        const int q = j < 16 ? (byte & 0x0f) : (byte >> 4);
        x[k] = static_cast<float>(q - 8) * static_cast<float>(float16_to_double(get<uint16_t>(s, blk)));
        break;
      }
    }
  }
  return x;
}

}  // namespace prefer::io
