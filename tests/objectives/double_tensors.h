// Float64 tensors written inline in the objectives' tests: d({1, 2}) a vector, d({1, 2, 3, 4}, 2) a
// [2, 2] matrix filled row by row.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <vector>

namespace prefer::objectives {

inline at::Tensor d(std::vector<double> v) { return at::tensor(v, at::kDouble); }
inline at::Tensor d(std::vector<double> v, int64_t cols) { return at::tensor(v, at::kDouble).reshape({-1, cols}); }

}  // namespace prefer::objectives
