// Activations from their closed forms. Gemma's tanh GELU moves the fixture logits by only ~6e-7 against
// erf GELU, so the choice is pinned here.
#include "model/mlp.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>

namespace prefer::model {
namespace {

TEST(Activation, GeluTanhIsTheTanhApproximation) {
  for (double x : {-3.0, -1.0, -0.3, 0.0, 0.5, 1.0, 2.5}) {
    const double want = 0.5 * x * (1 + std::tanh(std::sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)));
    EXPECT_NEAR(apply_activation(at::scalar_tensor(x, at::kDouble), io::Activation::GeluTanh).item<double>(), want, 1e-14) << x;
  }
  // And it is not erf GELU: at x = 1 they differ by ~1.5e-4.
  const double tanh1 = apply_activation(at::scalar_tensor(1.0, at::kDouble), io::Activation::GeluTanh).item<double>();
  const double erf1 = apply_activation(at::scalar_tensor(1.0, at::kDouble), io::Activation::Gelu).item<double>();
  EXPECT_NEAR(erf1, 0.5 * (1 + std::erf(1 / std::sqrt(2.0))), 1e-14);
  EXPECT_GT(std::abs(tanh1 - erf1), 1e-4);
}

TEST(Activation, SiLU) {
  for (double x : {-2.0, 0.0, 0.7, 3.0})
    EXPECT_NEAR(apply_activation(at::scalar_tensor(x, at::kDouble), io::Activation::SiLU).item<double>(), x / (1 + std::exp(-x)), 1e-14);
}

TEST(Mlp, GatedProduct) {
  // down(act(gate h) * up h) with 1x1 weights: 3 * silu(2 * 0.5) * (4 * 0.5).
  Mlp m;
  m.gate.weight = at::full({1, 1}, 2.0, at::kDouble);
  m.up.weight = at::full({1, 1}, 4.0, at::kDouble);
  m.down.weight = at::full({1, 1}, 3.0, at::kDouble);
  at::Tensor h = at::full({1, 1, 1}, 0.5, at::kDouble);
  const double silu1 = 1.0 / (1 + std::exp(-1.0));
  EXPECT_NEAR(m.forward(h, io::Activation::SiLU, {}).item<double>(), 3 * silu1 * 2, 1e-14);
}

}  // namespace
}  // namespace prefer::model
