// The LM head's row kernels against float64 ATen formulas on the same logits (float32 and bf16), and
// the argmax hit against torch.argmax. V is odd and over one 2048-element block, so the 16-wide loops,
// the block sums and the remainders all run; rows split over threads.
#include "model/logit_kernels.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <limits>

#include "test_util.h"

namespace prefer::model {
namespace {

constexpr int64_t kRows = 9, kVocab = 5003;

at::Tensor logits_of(at::ScalarType dtype, double scale, uint64_t seed) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  return (at::randn({kRows, kVocab}, gen) * scale).to(dtype);
}

void expect_near(const at::Tensor& a, const at::Tensor& want, double tol, const char* what) {
  const double worst = (a.to(at::kDouble) - want).abs().max().item<double>();
  EXPECT_LE(worst, tol) << what;
}

TEST(LogitKernels, RowStatisticsFollowFloat64) {
  for (at::ScalarType dtype : {at::kFloat, at::kBFloat16}) {
    for (double scale : {1.0, 30.0}) {  // 30: logits far from 0, where a sum without the max shift overflows
      at::Tensor x = logits_of(dtype, scale, 11);
      at::Tensor xd = x.to(at::kDouble);
      // Targets: the argmax in the first rows (hits), random ids in the rest.
      at::Tensor t = at::randint(kVocab, {kRows}, at::kLong);
      t.narrow(0, 0, 4).copy_(xd.argmax(-1).narrow(0, 0, 4));
      fused::LogitRowStats r = fused::logit_row_stats(x, t, /*stats=*/true);
      at::Tensor lse = at::logsumexp(xd, -1), logp = at::log_softmax(xd, -1), p = logp.exp();
      // float32 exp within 2 ulp and float32 lanes: ~1e-7 relative on the sums, 1e-6 abs on lse ~ scale.
      const double tol = 2e-6 * scale + 1e-6;
      expect_near(r.lse, lse, tol, "lse");
      expect_near(r.target_logit, xd.gather(1, t.unsqueeze(1)).squeeze(1), 0, "target logit");
      expect_near(r.entropy, -(p * logp).sum(-1), tol, "entropy");
      expect_near(r.mean_logit, xd.mean(-1), 1e-6 * scale, "mean logit");
      expect_near(r.log_sum_p_sq, at::logsumexp(2 * logp, -1), 2 * tol, "log sum p^2");
      EXPECT_TRUE(at::equal(r.hit, xd.argmax(-1).eq(t).to(at::kFloat)));
      EXPECT_GE(r.hit.sum().item<float>(), 4);
      fused::LogitRowStats plain = fused::logit_row_stats(x, t, /*stats=*/false);
      EXPECT_TRUE(at::equal(plain.lse, r.lse));
      EXPECT_FALSE(plain.entropy.defined());
    }
  }
}

TEST(LogitKernels, HitIsTorchArgmaxIncludingTies) {
  // bf16 logits from a narrow set of values: every row has its max several times.
  at::Tensor x = (at::randint(-8, 8, {kRows, kVocab}).to(at::kFloat) / 4).to(at::kBFloat16);
  at::Tensor arg = x.to(at::kFloat).argmax(-1);  // the first maximum
  // Targets: the first maximum (hit), then a later tied maximum and a non-maximum (both misses).
  at::Tensor is_max = x.to(at::kFloat).eq(x.to(at::kFloat).amax(-1, true));
  at::Tensor later = at::empty({kRows}, at::kLong);
  for (int64_t r = 0; r < kRows; ++r) {
    at::Tensor idx = is_max[r].nonzero().squeeze(1);
    ASSERT_GE(idx.numel(), 2);
    later[r] = idx[1];
  }
  at::Tensor not_max = (~is_max).to(at::kFloat).argmax(-1);
  EXPECT_TRUE(at::equal(fused::logit_row_stats(x, arg, true).hit, at::ones({kRows})));
  EXPECT_TRUE(at::equal(fused::logit_row_stats(x, later, true).hit, at::zeros({kRows})));
  EXPECT_TRUE(at::equal(fused::logit_row_stats(x, not_max, true).hit, at::zeros({kRows})));
}

TEST(LogitKernels, GradientIsOneHotMinusSoftmaxRoundedOnce) {
  for (at::ScalarType dtype : {at::kFloat, at::kBFloat16}) {
    at::Tensor x = logits_of(dtype, 4.0, 5);
    at::Tensor t = at::randint(kVocab, {kRows}, at::kLong);
    at::Tensor g = at::randn({kRows});
    at::Tensor lse = fused::logit_row_stats(x, t, false).lse;
    at::Tensor xd = x.to(at::kDouble);
    at::Tensor want = -at::softmax(xd, -1) * g.to(at::kDouble).unsqueeze(1);
    want.scatter_add_(1, t.unsqueeze(1), g.to(at::kDouble).unsqueeze(1));
    at::Tensor d = x.clone();
    fused::target_logprob_grad_(d, lse, g, t);
    EXPECT_EQ(d.scalar_type(), dtype);
    // bf16: one rounding (2^-9 relative) on top of float32's error; float32: ~1e-6 relative.
    const double rel = dtype == at::kBFloat16 ? 1.0 / 256 : 4e-6;
    at::Tensor err = (d.to(at::kDouble) - want).abs() - want.abs() * rel;
    EXPECT_LE(err.max().item<double>(), 1e-9) << dtype;
  }
}

TEST(LogitKernels, NanLogitsGiveNanAndBadTargetsFail) {
  at::Tensor x = logits_of(at::kFloat, 1.0, 3);
  x[2][4000] = std::numeric_limits<float>::quiet_NaN();
  at::Tensor t = at::zeros({kRows}, at::kLong);
  fused::LogitRowStats r = fused::logit_row_stats(x, t, true);
  EXPECT_TRUE(std::isnan(r.lse[2].item<float>()));
  EXPECT_TRUE(std::isnan(r.entropy[2].item<float>()));
  EXPECT_FALSE(std::isnan(r.lse[1].item<float>()));
  t[3] = kVocab;
  EXPECT_ERROR_WITH(fused::logit_row_stats(x, t, false), "outside the vocabulary");
  EXPECT_FALSE(fused::logits_eligible(x.to(at::kDouble)));
  EXPECT_FALSE(fused::logits_eligible(x.t()));
}

}  // namespace
}  // namespace prefer::model
