// RMSNorm: x / sqrt(mean(x^2) + eps) * w, Gemma's (1 + w), and HF's cast order in low precision.
#include "model/rms_norm.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>

namespace prefer::model {
namespace {

TEST(RmsNorm, ClosedForm) {
  at::Tensor x = at::tensor({3.0, 4.0}, at::kDouble);
  at::Tensor w = at::tensor({2.0, 0.5}, at::kDouble);
  const double r = std::sqrt((9.0 + 16.0) / 2 + 1e-6);
  at::Tensor y = rms_norm(x, w, 1e-6, false);
  EXPECT_NEAR(y[0].item<double>(), 3 / r * 2, 1e-14);
  EXPECT_NEAR(y[1].item<double>(), 4 / r * 0.5, 1e-14);
  at::Tensor g = rms_norm(x, w, 1e-6, true);  // Gemma: (1 + w)
  EXPECT_NEAR(g[0].item<double>(), 3 / r * 3, 1e-14);
  EXPECT_NEAR(g[1].item<double>(), 4 / r * 1.5, 1e-14);
}

TEST(RmsNorm, Bfloat16FollowsHFCastOrder) {
  at::Tensor x = at::randn({64, 16}).to(at::kBFloat16);
  at::Tensor w = (at::randn({16}) * 0.3 + 1).to(at::kBFloat16);
  at::Tensor xf = x.to(at::kFloat);
  at::Tensor normed = xf * at::rsqrt(xf.pow(2).mean(-1, true) + 1e-5);
  // Llama: cast the normalised value to bf16, then multiply by w in bf16.
  at::Tensor llama = w * normed.to(at::kBFloat16);
  // Gemma: multiply by (1 + w) in float32, then cast.
  at::Tensor gemma = (normed * (w.to(at::kFloat) + 1)).to(at::kBFloat16);
  EXPECT_TRUE(at::equal(rms_norm(x, w, 1e-5, false), llama));
  EXPECT_TRUE(at::equal(rms_norm(x, w, 1e-5, true), gemma));
  EXPECT_EQ(rms_norm(x, w, 1e-5, true).scalar_type(), at::kBFloat16);
}

// The hand-written backward against autograd through the textbook formula, float64.
TEST(RmsNorm, GradientsEqualAutogradOfTheFormula) {
  for (bool plus_one : {false, true}) {
    at::Tensor x = at::randn({3, 5, 16}, at::kDouble).requires_grad_(true);
    at::Tensor w = (at::randn({16}, at::kDouble) * 0.3 + 1).requires_grad_(true);
    at::Tensor x2 = x.detach().clone().requires_grad_(true), w2 = w.detach().clone().requires_grad_(true);
    at::Tensor up = at::randn({3, 5, 16}, at::kDouble);
    (rms_norm(x, w, 1e-5, plus_one) * up).sum().backward();
    at::Tensor textbook = x2 * at::rsqrt(x2.pow(2).mean(-1, true) + 1e-5) * (plus_one ? w2 + 1 : w2);
    (textbook * up).sum().backward();
    EXPECT_TRUE(at::allclose(x.grad(), x2.grad(), 1e-12, 1e-12)) << plus_one;
    EXPECT_TRUE(at::allclose(w.grad(), w2.grad(), 1e-12, 1e-12)) << plus_one;
  }
  // Frozen weight (LoRA): only dx.
  at::Tensor x = at::randn({4, 8}, at::kDouble).requires_grad_(true);
  at::Tensor w = at::randn({8}, at::kDouble);
  rms_norm(x, w, 1e-6, false).sum().backward();
  EXPECT_TRUE(x.grad().defined());
}

TEST(RmsNorm, Bfloat16GradientsCloseToFloat64) {
  at::Tensor x = at::randn({64, 32}, at::kDouble);
  at::Tensor w = at::randn({32}, at::kDouble) * 0.3 + 1;
  at::Tensor up = at::randn({64, 32}, at::kDouble);
  at::Tensor xb = x.to(at::kBFloat16).requires_grad_(true), wb = w.to(at::kBFloat16).requires_grad_(true);
  (rms_norm(xb, wb, 1e-5, false) * up.to(at::kBFloat16)).sum().backward();
  at::Tensor x2 = xb.detach().to(at::kDouble).requires_grad_(true), w2 = wb.detach().to(at::kDouble).requires_grad_(true);
  ((x2 * at::rsqrt(x2.pow(2).mean(-1, true) + 1e-5) * w2) * up.to(at::kBFloat16).to(at::kDouble)).sum().backward();
  EXPECT_TRUE(at::allclose(xb.grad().to(at::kDouble), x2.grad(), 2e-2, 2e-2));
  EXPECT_TRUE(at::allclose(wb.grad().to(at::kDouble), w2.grad(), 5e-2, 5e-2));
}

}  // namespace
}  // namespace prefer::model
