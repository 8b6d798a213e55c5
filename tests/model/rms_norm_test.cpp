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

}  // namespace
}  // namespace prefer::model
