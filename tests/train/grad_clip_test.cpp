#include "train/grad_clip.h"

#include <ATen/ATen.h>

#include <cmath>
#include <limits>

#include "test_util.h"

namespace prefer::train {

namespace {

at::Tensor param_with_grad(std::vector<float> grad, at::ScalarType dtype = at::kFloat) {
  at::Tensor p = at::zeros({static_cast<int64_t>(grad.size())}, at::TensorOptions().dtype(dtype)).requires_grad_(true);
  p.mutable_grad() = at::tensor(grad, at::TensorOptions().dtype(at::kFloat)).to(dtype);
  return p;
}

}  // namespace

// Gradients (3, 4) and (12): per-tensor norms 5 and 12, total sqrt(25 + 144) = 13.
TEST(GradClip, ReturnsTheNormBeforeClippingAndScales) {
  at::Tensor a = param_with_grad({3, 4}), b = param_with_grad({12});
  at::Tensor total = clip_grad_norm({a, b}, 6.5);
  EXPECT_FLOAT_EQ(total.item<float>(), 13.0f);
  // coef = 6.5 / (13 + 1e-6) = 0.49999996...
  const double coef = 6.5 / (13.0 + 1e-6);
  EXPECT_NEAR(a.grad()[0].item<double>(), 3 * coef, 1e-6);
  EXPECT_NEAR(a.grad()[1].item<double>(), 4 * coef, 1e-6);
  EXPECT_NEAR(b.grad()[0].item<double>(), 12 * coef, 1e-6);
  EXPECT_NEAR(grad_global_norm({a, b}).item<double>(), 6.5, 1e-5);
}

TEST(GradClip, LeavesSmallGradientsAlone) {
  at::Tensor a = param_with_grad({3, 4});
  EXPECT_FLOAT_EQ(clip_grad_norm({a}, 100.0).item<float>(), 5.0f);
  EXPECT_EQ(a.grad()[0].item<float>(), 3.0f);  // coefficient clamped to exactly 1
  EXPECT_EQ(a.grad()[1].item<float>(), 4.0f);
  // max_norm <= 0 measures only.
  at::Tensor b = param_with_grad({30, 40});
  EXPECT_FLOAT_EQ(clip_grad_norm({b}, 0).item<float>(), 50.0f);
  EXPECT_EQ(b.grad()[1].item<float>(), 40.0f);
}

TEST(GradClip, SkipsParametersWithoutGradient) {
  at::Tensor a = param_with_grad({3, 4});
  at::Tensor none = at::zeros({3}).requires_grad_(true);
  EXPECT_FLOAT_EQ(clip_grad_norm({none, a}, 1.0).item<float>(), 5.0f);
  EXPECT_FALSE(none.grad().defined());
  EXPECT_EQ(clip_grad_norm({none}, 1.0).item<float>(), 0.0f);
  EXPECT_EQ(grad_global_norm({}).item<float>(), 0.0f);
}

TEST(GradClip, Bfloat16GradientsAreMeasuredInFloat32) {
  // 256 gradients of 1 (exact in bf16): the norm is 16; in float32 exactly, whatever bf16's rounding.
  at::Tensor a = param_with_grad(std::vector<float>(256, 1.0f), at::kBFloat16);
  at::Tensor total = clip_grad_norm({a}, 8.0);
  EXPECT_EQ(total.scalar_type(), at::kFloat);
  EXPECT_EQ(total.item<float>(), 16.0f);
  // coef = 8 / (16 + 1e-6) ~ 0.5: in bf16, 1 * 0.49999997 rounds to 0.5.
  EXPECT_EQ(a.grad()[0].item<float>(), 0.5f);
}

TEST(GradClip, NonFiniteNormIsReported) {
  at::Tensor a = param_with_grad({std::numeric_limits<float>::quiet_NaN(), 1});
  EXPECT_TRUE(std::isnan(clip_grad_norm({a}, 1.0).item<double>()));
  at::Tensor b = param_with_grad({std::numeric_limits<float>::infinity(), 1});
  EXPECT_TRUE(std::isinf(grad_global_norm({b}).item<double>()));
}

}  // namespace prefer::train
