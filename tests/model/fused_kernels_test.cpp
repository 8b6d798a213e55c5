// The fused bf16 kernels against float64 ATen formulas rounded once to bf16 (and, for the conversions,
// ATen's own casts bit for bit). Shapes are odd-sized and large enough to split over threads and to
// leave a remainder after the 16-wide loops.
#include "model/fused_kernels.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#include "model/rms_norm.h"
#include "model/rope.h"

namespace prefer::model {
namespace {

constexpr double kUlp = 1.0 / 256;  // one rounding to bf16 (8 significant bits): at most half an ulp, 2^-8 relative

// |a - ref| <= tol |ref| + abs elementwise, a and ref compared in float64.
void expect_close(const at::Tensor& a, const at::Tensor& ref, double tol, double abs, const char* what) {
  at::Tensor d = (a.to(at::kDouble) - ref.to(at::kDouble)).abs();
  at::Tensor bound = ref.to(at::kDouble).abs() * tol + abs;
  EXPECT_TRUE((d <= bound).all().item<bool>()) << what << ": worst excess " << (d - bound).max().item<double>();
}

at::Tensor bf16(const at::Tensor& t) { return t.to(at::kBFloat16); }

TEST(FusedKernels, ConversionsEqualATenCastsBitForBit) {
  // Random floats over many binades, exact ties (low 16 bits 0x8000, even and odd), ±0, ±inf,
  // subnormals and the largest finite float (rounds up to inf).
  at::Tensor f = at::randn({40001}) * at::exp2(at::randint(-30, 30, {40001}).to(at::kFloat));
  std::vector<uint32_t> bits = {0x3F808000u, 0x3F818000u, 0xBF808000u, 0x00000000u, 0x80000000u, 0x7F800000u,
                                0xFF800000u, 0x00000001u, 0x00008000u, 0x7F7FFFFFu, 0x3F80FFFFu};
  for (size_t i = 0; i < bits.size(); ++i) {
    float v;
    std::memcpy(&v, &bits[i], 4);
    f[static_cast<int64_t>(i)] = v;
  }
  at::Tensor ours = fused::to_bf16(f), aten = f.to(at::kBFloat16);
  EXPECT_TRUE(at::equal(ours.view(at::kShort), aten.view(at::kShort)));
  EXPECT_TRUE(at::equal(fused::to_float(aten), aten.to(at::kFloat)));
  // NaN stays NaN (ATen returns its quiet NaN).
  at::Tensor nan = at::full({3}, std::numeric_limits<float>::quiet_NaN());
  EXPECT_TRUE(fused::to_bf16(nan).isnan().all().item<bool>());
  // convert(): the same casts, and ATen's for anything else.
  EXPECT_TRUE(at::equal(fused::convert(f, at::kBFloat16).view(at::kShort), aten.view(at::kShort)));
  EXPECT_TRUE(at::equal(fused::convert(f.to(at::kDouble), at::kFloat), f));
}

TEST(FusedKernels, AddFloatBf16IsExactFloatAdd) {
  at::Tensor x = at::randn({5, 3001}), y = bf16(at::randn({5, 3001}));
  EXPECT_TRUE(at::equal(fused::add_float_bf16(x, y), x + y.to(at::kFloat)));
}

TEST(FusedKernels, SiluMulAndItsGradientsFollowFloat64) {
  at::Tensor g = bf16(at::randn({3, 7001}) * 4), u = bf16(at::randn({3, 7001})), dy = bf16(at::randn({3, 7001}));
  // PyTorch's bf16 silu(g) * u (and autocast's) rounds silu(g) before the product, and its backward
  // rounds dy u before silu's derivative: the same roundings here, in float64 otherwise.
  auto round = [](const at::Tensor& t) { return t.to(at::kBFloat16).to(at::kDouble); };
  at::Tensor gd = g.to(at::kDouble), ud = u.to(at::kDouble), dyd = dy.to(at::kDouble);
  at::Tensor sig = at::sigmoid(gd);
  expect_close(fused::silu_mul(g, u), round(gd * sig) * ud, kUlp, 1e-30, "silu_mul");
  auto [dg, du] = fused::silu_mul_backward(dy, g, u);
  EXPECT_EQ(dg.scalar_type(), at::kBFloat16);
  expect_close(dg, round(dyd * ud) * sig * (1 + gd * (1 - sig)), kUlp, 1e-30, "d/dg");
  expect_close(du, dyd * round(gd * sig), kUlp, 1e-30, "d/du");
  // And against ATen's bf16 ops themselves (its exp differs from ours in float's last bits: a tie
  // may round the other way).
  expect_close(fused::silu_mul(g, u), at::silu(g) * u, 4 * kUlp, 1e-30, "ATen silu * u");
  // Saturated inputs: silu(-100) = -0 in bf16, silu(100) = 100.
  at::Tensor big = bf16(at::tensor({-100.0f, 100.0f})), one = bf16(at::ones({2}));
  at::Tensor s = fused::silu_mul(big, one).to(at::kFloat);
  EXPECT_EQ(s[0].item<float>(), 0.0f);
  EXPECT_EQ(s[1].item<float>(), 100.0f);
}

// HF's RMSNorm in float64: h = x r; y = w round(h) (Llama, h rounded to x's dtype) or (1 + w) h (Gemma).
at::Tensor rms_reference(const at::Tensor& x, const at::Tensor& w, double eps, bool plus_one) {
  at::Tensor xd = x.to(at::kDouble);
  at::Tensor h = xd * at::rsqrt(xd.pow(2).mean(-1, true) + eps);
  if (plus_one) return h * (w.to(at::kDouble) + 1);
  return w.to(at::kDouble) * h.to(x.scalar_type()).to(at::kDouble);
}

TEST(FusedKernels, RmsNormFollowsFloat64InBothInputDtypes) {
  for (at::ScalarType in : {at::kFloat, at::kBFloat16}) {
    for (bool plus_one : {false, true}) {
      SCOPED_TRACE(std::string(c10::toString(in)) + (plus_one ? " (1 + w)" : " w"));
      const int64_t H = 77;
      at::Tensor x = (at::randn({2, 301, H}) * 3).to(in), w = at::randn({H}) * 0.3 + 1;
      auto [y, r] = fused::rms_norm(x, w, 1e-6, plus_one);
      EXPECT_EQ(y.scalar_type(), at::kBFloat16);
      EXPECT_EQ(r.sizes(), (at::IntArrayRef{2, 301}));
      at::Tensor xd = x.to(at::kDouble);
      expect_close(r, at::rsqrt(xd.pow(2).mean(-1) + 1e-6), 1e-6, 0, "r");
      // Rounding h to bf16 (Llama's order) can land on the other side of a tie from float64: a whole
      // ulp of h, up to 2^-7 of it just above a power of two, then the output's own rounding (2^-8).
      expect_close(y, rms_reference(x, w, 1e-6, plus_one), 3 * kUlp, 1e-6, "y");

      // Gradients against float64 autograd of the same formula (h not rounded: the rounding's
      // derivative is taken as 1, as the layer's own backward does).
      at::Tensor dy = bf16(at::randn({2, 301, H}));
      at::Tensor xg = xd.clone().requires_grad_(true), wg = w.to(at::kDouble).requires_grad_(true);
      at::Tensor h = xg * at::rsqrt(xg.pow(2).mean(-1, true) + 1e-6);
      (h * (plus_one ? wg + 1 : wg)).backward(dy.to(at::kDouble));
      auto [dx, dw] = fused::rms_norm_backward(dy, x, w, r, plus_one, true, true);
      EXPECT_EQ(dx.scalar_type(), in);
      const double dx_tol = in == at::kFloat ? 1e-4 : 2 * kUlp;
      expect_close(dx, xg.grad(), dx_tol, 1e-3 * xg.grad().abs().max().item<double>(), "dx");
      // dw sums 602 products of rounded h: relative to the sum of magnitudes.
      at::Tensor hd = h.detach();
      at::Tensor mag = (dy.to(at::kDouble) * hd).abs().sum(at::IntArrayRef{0, 1});
      at::Tensor err = (dw.to(at::kDouble) - wg.grad()).abs();
      EXPECT_TRUE((err <= mag * (in == at::kFloat ? 1e-5 : kUlp)).all().item<bool>()) << "dw";
      // Only dw (a frozen input) or only dx.
      EXPECT_FALSE(fused::rms_norm_backward(dy, x, w, r, plus_one, false, true).first.defined());
      EXPECT_FALSE(fused::rms_norm_backward(dy, x, w, r, plus_one, true, false).second.defined());
    }
  }
}

// The layer entry point: the fused path equals the unfused rms_norm(...).to(bf16) forward and its
// autograd gradients (float32 x under mixed precision, bf16 x in pure bf16).
TEST(FusedKernels, RmsNormEntryPointMatchesTheUnfusedLayer) {
  for (at::ScalarType in : {at::kFloat, at::kBFloat16}) {
    at::Tensor x0 = (at::randn({3, 40, 64}) * 2).to(in);
    at::Tensor w0 = (at::randn({64}) * 0.2 + 1).to(in);
    at::Tensor x1 = x0.clone().requires_grad_(true), w1 = w0.clone().requires_grad_(true);
    at::Tensor x2 = x0.clone().requires_grad_(true), w2 = w0.clone().requires_grad_(true);
    at::Tensor up = bf16(at::randn({3, 40, 64}));
    at::Tensor fused_y = rms_norm(x1, w1, 1e-5, false, at::kBFloat16);
    at::Tensor plain_y = rms_norm(x2, w2, 1e-5, false).to(at::kBFloat16);
    EXPECT_EQ(fused_y.scalar_type(), at::kBFloat16);
    // Both round h to bf16, and a tie may fall either way: one ulp of h (2^-7), then the output rounding.
    expect_close(fused_y, plain_y, 3 * kUlp, 1e-6, "y");
    (fused_y.to(at::kFloat) * up.to(at::kFloat)).sum().backward();
    (plain_y.to(at::kFloat) * up.to(at::kFloat)).sum().backward();
    const double scale = x2.grad().abs().max().item<double>();
    expect_close(x1.grad(), x2.grad(), 4 * kUlp, 1e-2 * scale, "dx");
    const double wscale = w2.grad().abs().max().item<double>();
    expect_close(w1.grad(), w2.grad(), 4 * kUlp, 1e-2 * wscale, "dw");
  }
}

// Rotation of x [B, T, heads, D] by angle tables [B, T, D] in float64.
at::Tensor rope_reference(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin) {
  at::Tensor xd = x.to(at::kDouble);
  const int64_t half = x.size(-1) / 2;
  at::Tensor rot = at::cat({-xd.narrow(-1, half, half), xd.narrow(-1, 0, half)}, -1);
  return xd * cos.to(at::kDouble).unsqueeze(2) + rot * sin.to(at::kDouble).unsqueeze(2);
}

TEST(FusedKernels, RopeAndItsInverseFollowFloat64) {
  const int64_t B = 2, T = 37, heads = 5, D = 24;
  at::Tensor angle = at::randn({B, T, D / 2}) * 3;
  at::Tensor cos = at::cat({angle.cos(), angle.cos()}, -1), sin = at::cat({angle.sin(), angle.sin()}, -1);
  at::Tensor x = bf16(at::randn({B, T, heads, D}));
  expect_close(fused::rope(x, cos, sin, false), rope_reference(x, cos, sin), 0, 4 * kUlp, "rope");
  // The inverse rotates by -angle: cos stays, sin flips.
  expect_close(fused::rope(x, cos, sin, true), rope_reference(x, cos, -sin), 0, 4 * kUlp, "inverse");
  // bf16 tables (pure bf16): ATen's bf16 ops, bit for bit.
  at::Tensor cb = bf16(cos), sb = bf16(sin);
  const int64_t half = D / 2;
  at::Tensor rot = at::cat({-x.narrow(-1, half, half), x.narrow(-1, 0, half)}, -1);
  at::Tensor aten = x * cb.unsqueeze(2) + rot * sb.unsqueeze(2);
  EXPECT_TRUE(at::equal(fused::rope(x, cb, sb, false).view(at::kShort), aten.view(at::kShort)));
  // Through the layer (autograd): the gradient of <rope(x), dy> is the inverse rotation of dy.
  RopeTables tables{cos, sin};
  at::Tensor xg = x.clone().requires_grad_(true);
  at::Tensor dy = bf16(at::randn({B, T, heads, D}));
  at::Tensor y = apply_rope(xg, tables);
  expect_close(y, rope_reference(x, cos, sin), 0, 4 * kUlp, "apply_rope");
  y.backward(dy);
  expect_close(xg.grad(), rope_reference(dy, cos, -sin), 0, 4 * kUlp, "apply_rope backward");
}

TEST(FusedKernels, RejectsWhatTheyCannotRead) {
  at::Tensor f = at::randn({4, 8});
  EXPECT_FALSE(fused::eligible({f}));
  EXPECT_FALSE(fused::eligible({bf16(f).t()}));  // not contiguous
  EXPECT_TRUE(fused::eligible({bf16(f), at::Tensor()}));
  EXPECT_ANY_THROW(fused::silu_mul(f, f));
  EXPECT_ANY_THROW(fused::silu_mul(bf16(f), bf16(at::randn({4, 9}))));
  EXPECT_ANY_THROW(fused::to_float(f));
}

}  // namespace
}  // namespace prefer::model
