// The TRL golden values (tests/fixtures/losses/trl_golden.json, described in the README beside it):
// loading, turning JSON lists into float64 tensors, and comparisons at the fixture's precision.
#pragma once

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "test_util.h"
#include "util/json.h"

namespace prefer::objectives::test {

// Per-example values, losses and gradients are compared at 1e-9 relative error. The absolute floor of
// 1e-14 only matters for values that are themselves ~0 (a gradient that is exactly 0 in the fixture and
// 1e-18 here, or the alpha-divergence losses of ~1e-25 and ~1e-158), where relative error means nothing.
constexpr double kRtol = 1e-9;
constexpr double kAtol = 1e-14;

inline const Json& golden() {
  static const Json doc = read_json_file(prefer::test::fixture("losses/trl_golden.json"));
  return doc;
}

// Ids of the cases of `family` ("dpo", "kto", "orpo", "cpo", "reward"), in file order.
inline std::vector<std::string> golden_ids(const std::string& family) {
  std::vector<std::string> ids;
  for (const auto& c : golden()["cases"])
    if (c["family"] == family) ids.push_back(c["id"].get<std::string>());
  return ids;
}

inline const Json& golden_case(const std::string& id) {
  for (const auto& c : golden()["cases"])
    if (c["id"] == id) return c;
  throw std::runtime_error("no golden case " + id);
}

// A gtest-safe name for a case id: its position, then the id with every other character as '_'.
inline std::string case_test_name(const std::string& id) {
  const auto& cases = golden()["cases"];
  size_t index = 0;
  while (index < cases.size() && cases[index]["id"] != id) ++index;
  // Appended piece by piece: GCC 12 warns falsely (-Wstringop-overflow) on "c" + to_string(i) + "_".
  std::string name = "c";
  name += std::to_string(index);
  name += '_';
  for (char ch : id) name += std::isalnum(static_cast<unsigned char>(ch)) ? ch : '_';
  return name;
}

namespace detail {
inline void flatten(const Json& v, std::vector<double>& values, std::vector<int64_t>& shape, size_t depth) {
  if (v.is_array()) {
    if (shape.size() <= depth) shape.push_back(static_cast<int64_t>(v.size()));
    for (const auto& e : v) flatten(e, values, shape, depth + 1);
  } else if (v.is_boolean()) {
    values.push_back(v.get<bool>() ? 1.0 : 0.0);
  } else {
    values.push_back(v.get<double>());
  }
}
}  // namespace detail

// A JSON number or (nested) list of numbers as a float64 tensor ([] for a number).
inline at::Tensor to_tensor(const Json& v) {
  std::vector<double> values;
  std::vector<int64_t> shape;
  detail::flatten(v, values, shape, 0);
  at::Tensor t = at::tensor(values, at::TensorOptions().dtype(at::kDouble));
  return t.reshape(shape);
}

// Element-wise |a − e| <= rtol·|e| + atol, with the worst entry in the failure message.
inline void expect_close(const at::Tensor& actual, const at::Tensor& expected, const std::string& what,
                         double rtol = kRtol, double atol = kAtol) {
  ASSERT_TRUE(actual.defined()) << what << ": undefined";
  at::Tensor a = actual.detach().to(at::kDouble).reshape(expected.sizes());
  ASSERT_EQ(a.numel(), expected.numel()) << what;
  at::Tensor err = (a - expected).abs();
  at::Tensor bound = expected.abs() * rtol + atol;
  at::Tensor bad = err > bound;
  if (bad.any().item<bool>() || a.isnan().any().item<bool>()) {
    int64_t worst = (err - bound).reshape({-1}).argmax().item<int64_t>();
    ADD_FAILURE() << what << ": entry " << worst << " is " << a.reshape({-1})[worst].item<double>() << ", expected "
                  << expected.reshape({-1})[worst].item<double>() << " (rel. error "
                  << err.reshape({-1})[worst].item<double>() /
                         std::max(1e-300, std::abs(expected.reshape({-1})[worst].item<double>()))
                  << ")";
  }
}

inline void expect_close(const at::Tensor& actual, const Json& expected, const std::string& what, double rtol = kRtol,
                         double atol = kAtol) {
  expect_close(actual, to_tensor(expected), what, rtol, atol);
}

// The gradient of a leaf after backward(); an input the loss does not depend on (undefined .grad())
// has gradient 0.
inline at::Tensor grad_of(const at::Tensor& leaf) {
  return leaf.grad().defined() ? leaf.grad() : at::zeros_like(leaf);
}

}  // namespace prefer::objectives::test
