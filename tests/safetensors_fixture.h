// Reads integer tensors of fixture safetensors files in tests (torch-free).
#pragma once

#include <cstring>
#include <string>
#include <vector>

#include "io/safetensors.h"
#include "test_util.h"

namespace prefer::test {

// An I64 [rows, cols] tensor as rows of values.
inline std::vector<std::vector<int64_t>> fixture_int_matrix(const std::string& rel, const std::string& name) {
  io::SafetensorsFile f(fixture(rel));
  io::TensorView v = f.view(name);
  std::vector<int64_t> flat(static_cast<size_t>(v.info->numel()));
  std::memcpy(flat.data(), v.data, v.nbytes);
  std::vector<std::vector<int64_t>> out;
  int64_t cols = v.info->shape.at(1);
  for (size_t r = 0; r < static_cast<size_t>(v.info->shape.at(0)); ++r)
    out.emplace_back(flat.begin() + static_cast<std::ptrdiff_t>(r * cols), flat.begin() + static_cast<std::ptrdiff_t>((r + 1) * cols));
  return out;
}

}  // namespace prefer::test

namespace prefer::test {

// An F64 tensor's values, flattened.
inline std::vector<double> fixture_doubles(const std::string& rel, const std::string& name) {
  io::SafetensorsFile f(fixture(rel));
  io::TensorView v = f.view(name);
  std::vector<double> out(static_cast<size_t>(v.info->numel()));
  std::memcpy(out.data(), v.data, v.nbytes);
  return out;
}

}  // namespace prefer::test
