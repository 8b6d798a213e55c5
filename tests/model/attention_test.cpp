// The attention layout: padding, causality, sliding windows and explicit visibility, written out by hand.
#include "model/attention.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "test_util.h"

#include <cmath>

namespace prefer::model {
namespace {

at::Tensor visible_of(const at::Tensor& bias) { return bias.eq(0).squeeze(1); }  // [B, Tq, Tk]

at::Tensor bools(std::vector<int64_t> v, std::vector<int64_t> shape) {
  return at::tensor(v, at::kLong).view(shape).to(at::kBool);
}

TEST(AttentionBias, LeftPaddingCausalAndWindow) {
  // Row: [pad, t0, t1, t2, t3], positions 1 0 1 2 3; window 2: a query sees itself and one key before.
  at::Tensor mask = bools({0, 1, 1, 1, 1}, {1, 5});
  at::Tensor pos = at::tensor({1, 0, 1, 2, 3}, at::kLong).view({1, 5});
  at::Tensor full = visible_of(attention_bias(mask, {}, pos, pos, 0, 0, at::kFloat));
  at::Tensor want_full = bools({0, 0, 0, 0, 0,  //
                                0, 1, 0, 0, 0,  //
                                0, 1, 1, 0, 0,  //
                                0, 1, 1, 1, 0,  //
                                0, 1, 1, 1, 1},
                               {1, 5, 5});
  EXPECT_TRUE(at::equal(full, want_full));
  at::Tensor win = visible_of(attention_bias(mask, {}, pos, pos, 0, 2, at::kFloat));
  at::Tensor want_win = bools({0, 0, 0, 0, 0,  //
                               0, 1, 0, 0, 0,  //
                               0, 1, 1, 0, 0,  //
                               0, 0, 1, 1, 0,  //
                               0, 0, 0, 1, 1},
                              {1, 5, 5});
  EXPECT_TRUE(at::equal(win, want_win));
}

TEST(AttentionBias, MaskedEntriesAreTheLowestFiniteValue) {
  at::Tensor pos = at::arange(3, at::kLong).view({1, 3});
  at::Tensor b = attention_bias({}, {}, pos, pos, 0, 0, at::kFloat);
  EXPECT_EQ(b[0][0][0][1].item<float>(), std::numeric_limits<float>::lowest());
  EXPECT_TRUE(at::isfinite(b).all().item<bool>());
}

TEST(AttentionBias, CachedKeysAndQueryOffset) {
  // 3 cached slots (the first is padding), 2 new queries at slots 3 and 4.
  at::Tensor kmask = bools({0, 1, 1, 1, 1}, {1, 5});
  at::Tensor kpos = at::tensor({1, 0, 1, 2, 3}, at::kLong).view({1, 5});
  at::Tensor qpos = at::tensor({2, 3}, at::kLong).view({1, 2});
  at::Tensor v = visible_of(attention_bias(kmask, {}, qpos, kpos, 3, 0, at::kFloat));
  EXPECT_TRUE(at::equal(v, bools({0, 1, 1, 1, 0, 0, 1, 1, 1, 1}, {1, 2, 5})));
}

TEST(AttentionBias, ExplicitVisibilityStillGetsPaddingAndWindow) {
  // Prefix-shared row: prompt p0 p1, chosen c0 (pos 2), rejected r0 (pos 2); r0 must not see c0.
  at::Tensor vis = bools({1, 0, 0, 0,  //
                          1, 1, 0, 0,  //
                          1, 1, 1, 0,  //
                          1, 1, 0, 1},
                         {1, 4, 4});
  at::Tensor pos = at::tensor({0, 1, 2, 2}, at::kLong).view({1, 4});
  at::Tensor v = visible_of(attention_bias({}, vis, pos, pos, 0, 2, at::kFloat));
  // Window 2 by position: r0 (pos 2) sees p1 (pos 1) and itself, not p0 (pos 0).
  EXPECT_TRUE(at::equal(v, bools({1, 0, 0, 0, 1, 1, 0, 0, 0, 1, 1, 0, 0, 1, 0, 1}, {1, 4, 4})));
  EXPECT_ERROR_WITH(attention_bias({}, bools({1, 1}, {1, 1, 2}), pos, pos, 0, 0, at::kFloat), "visibility");
}

TEST(Attend, GroupedQueryHeadsReadTheirKeyValueHead) {
  // 4 query heads, 2 kv heads: heads 0,1 read kv 0 and heads 2,3 read kv 1 (h // 2, not h % 2).
  const int64_t B = 1, Hq = 4, Hkv = 2, T = 3, D = 2;
  at::Tensor q = at::randn({B, Hq, T, D}, at::kDouble);
  at::Tensor k = at::randn({B, Hkv, T, D}, at::kDouble);
  at::Tensor v = at::randn({B, Hkv, T, D}, at::kDouble);
  at::Tensor pos = at::arange(T, at::kLong).view({1, T});
  at::Tensor bias = attention_bias({}, {}, pos, pos, 0, 0, at::kDouble);
  at::Tensor out = attend(q, k, v, bias, 0.5).view({B, T, Hq, D});
  for (int64_t h = 0; h < Hq; ++h) {
    const int64_t kv = h / 2;
    for (int64_t i = 0; i < T; ++i) {
      at::Tensor s = (q[0][h][i].unsqueeze(0) * k[0][kv].narrow(0, 0, i + 1)).sum(-1) * 0.5;  // [i+1]
      at::Tensor p = s.softmax(0);
      at::Tensor want = (p.unsqueeze(1) * v[0][kv].narrow(0, 0, i + 1)).sum(0);
      EXPECT_TRUE(at::allclose(out[0][i][h], want, 1e-12, 1e-12)) << h << " " << i;
    }
  }
}

TEST(Attend, AQueryThatSeesNothingStaysFinite) {
  at::Tensor q = at::randn({1, 2, 2, 4}), k = at::randn({1, 1, 2, 4}), v = at::randn({1, 1, 2, 4});
  at::Tensor pos = at::arange(2, at::kLong).view({1, 2});
  at::Tensor bias = attention_bias(at::tensor({0, 1}, at::kLong).view({1, 2}).to(at::kBool), {}, pos, pos, 0, 0, at::kFloat);
  EXPECT_TRUE(at::isfinite(attend(q, k, v, bias, 0.5)).all().item<bool>());
}

}  // namespace
}  // namespace prefer::model
