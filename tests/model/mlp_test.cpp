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

TEST(Mlp, GatedActivationGradientsEqualAutograd) {
  for (auto act : {io::Activation::SiLU, io::Activation::GeluTanh, io::Activation::Gelu}) {
    at::Tensor g = at::randn({5, 7}, at::kDouble).requires_grad_(true), u = at::randn({5, 7}, at::kDouble).requires_grad_(true);
    at::Tensor g2 = g.detach().clone().requires_grad_(true), u2 = u.detach().clone().requires_grad_(true);
    at::Tensor up = at::randn({5, 7}, at::kDouble);
    (gated_activation(g, u, act) * up).sum().backward();
    (apply_activation(g2, act) * u2 * up).sum().backward();
    EXPECT_TRUE(at::allclose(g.grad(), g2.grad(), 1e-13, 1e-13)) << static_cast<int>(act);
    EXPECT_TRUE(at::allclose(u.grad(), u2.grad(), 1e-13, 1e-13)) << static_cast<int>(act);
  }
  // Finite difference of the SiLU gate: d/dg [silu(g) u] = u sig(g) (1 + g (1 - sig(g))).
  const double g0 = 0.7, u0 = -1.3, e = 1e-6;
  at::Tensor g = at::full({1}, g0, at::kDouble).requires_grad_(true);
  gated_activation(g, at::full({1}, u0, at::kDouble), io::Activation::SiLU).sum().backward();
  auto f = [&](double x) { return x / (1 + std::exp(-x)) * u0; };
  EXPECT_NEAR(g.grad().item<double>(), (f(g0 + e) - f(g0 - e)) / (2 * e), 1e-8);
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
