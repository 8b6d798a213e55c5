// RoPE: inv_freq with llama3 and linear scaling against the README formula evaluated by hand, and the
// rotate-half layout against its element formula.
#include "model/rope.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>

#include "model_test_util.h"

namespace prefer::model {
namespace {

io::ModelConfig rope_config(Json rope_scaling) {
  // head_dim 8, theta 10000: inv_freq = 1, 0.1, 0.01, 0.001 before scaling.
  return test::tiny_config("LlamaForCausalLM", {{"hidden_size", 32}, {"num_attention_heads", 4}, {"head_dim", 8},
                                                {"rope_theta", 10000.0}, {"rope_scaling", rope_scaling}});
}

TEST(Rope, DefaultInvFreqIsThetaPower) {
  at::Tensor f = rope_inv_freq(rope_config(nullptr));
  ASSERT_EQ(f.scalar_type(), at::kFloat);
  const double want[] = {1.0, 0.1, 0.01, 0.001};
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(f[i].item<double>(), want[i], 1e-7 * want[i]) << i;
}

TEST(Rope, Llama3RewritesInvFreqByWavelengthBand) {
  // factor 8, low 1, high 4, original 64: low_freq_wavelen = 64, high_freq_wavelen = 16.
  at::Tensor f = rope_inv_freq(rope_config({{"rope_type", "llama3"}, {"factor", 8.0}, {"low_freq_factor", 1.0},
                                            {"high_freq_factor", 4.0}, {"original_max_position_embeddings", 64}}));
  // d = 0: wavelen 2*pi < 16, kept.
  EXPECT_NEAR(f[0].item<double>(), 1.0, 1e-7);
  // d = 1: wavelen 20*pi in [16, 64]: smoothed with s = (64 / (20 pi) - 1) / (4 - 1).
  const double s = (64.0 / (20.0 * M_PI) - 1.0) / 3.0;
  EXPECT_NEAR(f[1].item<double>(), (1 - s) * 0.1 / 8 + s * 0.1, 1e-6 * 0.1);
  // d = 2, 3: wavelen 200 pi, 2000 pi > 64: divided by the factor.
  EXPECT_NEAR(f[2].item<double>(), 0.01 / 8, 1e-6 * 0.01);
  EXPECT_NEAR(f[3].item<double>(), 0.001 / 8, 1e-6 * 0.001);
}

TEST(Rope, LinearScalingDividesPositionsByTheFactor) {
  at::Tensor scaled = rope_inv_freq(rope_config({{"type", "linear"}, {"factor", 4.0}}));
  at::Tensor plain = rope_inv_freq(rope_config(nullptr));
  at::Tensor pos = at::tensor({0, 4, 8, 100}, at::kLong).view({1, 4});
  RopeTables a = rope_tables(scaled, pos, at::kDouble);
  RopeTables b = rope_tables(plain, at::tensor({0, 1, 2, 25}, at::kLong).view({1, 4}), at::kDouble);
  EXPECT_TRUE(at::allclose(a.cos, b.cos, 1e-6, 1e-7));
  EXPECT_TRUE(at::allclose(a.sin, b.sin, 1e-6, 1e-7));
}

TEST(Rope, RotateHalfLayout) {
  // D = 4: pairs (0, 2) and (1, 3) rotate by angles p * inv[0], p * inv[1].
  at::Tensor inv = at::tensor({0.5, 0.25}, at::kFloat);
  at::Tensor pos = at::tensor({3}, at::kLong).view({1, 1});
  RopeTables t = rope_tables(inv, pos, at::kDouble);
  at::Tensor x = at::tensor({1.0, 2.0, 3.0, 4.0}, at::kDouble).view({1, 1, 1, 4});  // [B, T, heads, D]
  at::Tensor y = apply_rope(x, t).view({4});
  const double a0 = 1.5, a1 = 0.75;
  EXPECT_NEAR(y[0].item<double>(), 1 * std::cos(a0) - 3 * std::sin(a0), 1e-12);
  EXPECT_NEAR(y[1].item<double>(), 2 * std::cos(a1) - 4 * std::sin(a1), 1e-12);
  EXPECT_NEAR(y[2].item<double>(), 3 * std::cos(a0) + 1 * std::sin(a0), 1e-12);
  EXPECT_NEAR(y[3].item<double>(), 4 * std::cos(a1) + 2 * std::sin(a1), 1e-12);
}

TEST(Rope, UnsupportedScalingIsRejectedByName) {
  EXPECT_ERROR_WITH(rope_config({{"rope_type", "yarn"}, {"factor", 2.0}}), "yarn", "linear, llama3");
}

}  // namespace
}  // namespace prefer::model
