// The attention tile's row kernels against float64 formulas on the same inputs (float32 and bf16
// scores), with masked keys (the bias's lowest float), a query that sees no key, and rows long enough
// for the 16-wide loops and their remainders; the backward's recomputed p equals the forward's bit for bit.
#include "model/attention_kernels.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <limits>

namespace prefer::model {
namespace {

constexpr int64_t kNb = 2, kHkv = 2, kG = 3, kN = 5, kNk = 53;
constexpr double kScale = 0.35;

struct Tile {
  at::Tensor scores, bias;  // [R, nk] (dtype), [nb, 1, n, nk] float32 (a narrowed view, as the tiles pass it)
};

Tile make_tile(at::ScalarType dt) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(21);
  Tile t;
  t.scores = (at::randn({kNb * kHkv * kG * kN, kNk}, gen) * 6).to(dt);
  at::Tensor full = at::zeros({kNb, 1, kN + 2, kNk + 3});  // the whole bias; the tile is a view into it
  const float lowest = std::numeric_limits<float>::lowest();
  full.narrow(3, 40, kNk + 3 - 40).fill_(lowest);  // keys 40.. masked for every query
  full[1][0][3].fill_(lowest);                     // row 1's query 2 sees no key at all (tile offset 1)
  full[0][0][2].narrow(0, 5, 4).fill_(-2.5);       // a finite, non-zero bias
  t.bias = full.narrow(2, 1, kN).narrow(3, 0, kNk);
  return t;
}

// s = (scores * scale rounded to dt) + bias, in float64, [R, nk]; for bf16 the scale is rounded to
// bf16 too (0.349609375), as LibTorch 1.13's bf16 product rounds it.
at::Tensor scaled_scores64(const Tile& t) {
  const at::ScalarType dt = t.scores.scalar_type();
  const double scale = dt == at::kBFloat16 ? 0.349609375 : static_cast<double>(static_cast<float>(kScale));
  at::Tensor s = (t.scores.to(at::kDouble) * scale).to(dt).to(at::kDouble).view({kNb, kHkv, kG, kN, kNk});
  return (s + t.bias.to(at::kDouble).unsqueeze(2)).reshape({-1, kNk});
}

TEST(AttentionKernels, ProbabilitiesAndStatisticsFollowFloat64) {
  for (at::ScalarType dt : {at::kFloat, at::kBFloat16}) {
    Tile t = make_tile(dt);
    at::Tensor m, l, p;
    fused::attention_probs(t.scores, t.bias, kScale, {kNb, kHkv, kG, kN}, m, l, /*compute_stats=*/true, p);
    at::Tensor s = scaled_scores64(t);
    at::Tensor want_m = std::get<0>(s.max(-1));
    at::Tensor want_l = (s - want_m.unsqueeze(1)).exp().sum(-1);
    at::Tensor want_p = at::softmax(s, -1);
    EXPECT_TRUE(at::equal(m.to(at::kDouble), want_m.to(at::kFloat).to(at::kDouble))) << dt;
    EXPECT_LT(((l.to(at::kDouble) - want_l).abs() / want_l).max().item<double>(), 1e-6) << dt;
    // bf16: one rounding of p (2^-9 relative); float32: exp within 2 ulp.
    const double rel = dt == at::kBFloat16 ? 1.0 / 256 : 1e-6;
    EXPECT_LE(((p.to(at::kDouble) - want_p).abs() - want_p * rel).max().item<double>(), 1e-12) << dt;
    // The query that sees no key averages every slot, as the eager softmax does.
    const int64_t blind = ((1 * kHkv + 1) * kG + 2) * kN + 2;  // batch row 1, kv head 1, group member 2, query 2
    EXPECT_NEAR(p[blind].to(at::kDouble).sum().item<double>(), 1.0, 1e-2);
    EXPECT_NEAR(p[blind][0].item<float>(), 1.0 / kNk, 1e-3);
    // Masked keys get exactly 0.
    EXPECT_EQ(p.narrow(0, 0, kHkv * kG * kN).narrow(1, 40, kNk - 40).abs().max().item<float>(), 0.0f);
    // Recomputed from the kept statistics: the forward's p bit for bit; written over the scores too.
    at::Tensor again;
    fused::attention_probs(t.scores, t.bias, kScale, {kNb, kHkv, kG, kN}, m, l, /*compute_stats=*/false, again);
    EXPECT_TRUE(at::equal(again, p)) << dt;
    at::Tensor in_place = t.scores.clone();
    at::Tensor m2, l2;
    fused::attention_probs(in_place, t.bias, kScale, {kNb, kHkv, kG, kN}, m2, l2, true, in_place);
    EXPECT_TRUE(at::equal(in_place, p)) << dt;
  }
}

TEST(AttentionKernels, ScoreGradientFollowsFloat64) {
  for (at::ScalarType dt : {at::kFloat, at::kBFloat16}) {
    Tile t = make_tile(dt);
    at::Tensor m, l, p;
    fused::attention_probs(t.scores, t.bias, kScale, {kNb, kHkv, kG, kN}, m, l, true, p);
    auto gen = at::make_generator<at::CPUGeneratorImpl>(4);
    at::Tensor dp = at::randn(t.scores.sizes(), gen).to(dt);
    at::Tensor delta = at::randn({t.scores.size(0)}, gen);
    at::Tensor want = at::softmax(scaled_scores64(t), -1) * (dp.to(at::kDouble) - delta.to(at::kDouble).unsqueeze(1)) *
                      static_cast<double>(static_cast<float>(kScale));
    at::Tensor ds = dp.clone();
    fused::attention_score_grad_(ds, t.scores, t.bias, kScale, {kNb, kHkv, kG, kN}, m, l, delta);
    EXPECT_EQ(ds.scalar_type(), dt);
    const double rel = dt == at::kBFloat16 ? 1.0 / 256 : 2e-6;
    EXPECT_LE(((ds.to(at::kDouble) - want).abs() - want.abs() * rel).max().item<double>(), 1e-9) << dt;
  }
}

TEST(AttentionKernels, RefusesWhatTheyDoNotTake) {
  Tile t = make_tile(at::kFloat);
  EXPECT_TRUE(fused::attention_eligible(t.scores, t.bias));
  EXPECT_FALSE(fused::attention_eligible(t.scores.to(at::kDouble), t.bias));
  EXPECT_FALSE(fused::attention_eligible(t.scores, t.bias.to(at::kDouble)));
  EXPECT_FALSE(fused::attention_eligible(t.scores.t(), t.bias));
  at::Tensor m, l, p;
  EXPECT_THROW(fused::attention_probs(t.scores, t.bias, kScale, {kNb, kHkv, kG, kN + 1}, m, l, true, p), std::exception);
}

}  // namespace
}  // namespace prefer::model
