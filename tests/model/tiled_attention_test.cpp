// Tiled attention against the textbook product softmax(q k^T * scale + bias) v written here with
// repeated key/value heads (independent of the tiling, the grouping and the hand-written backward):
// values, and gradients against autograd through that product, in float64.
#include "model/tiled_attention.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <vector>

#include "model/attention.h"

namespace prefer::model {
namespace {

// q [B, Hq, T, D], k/v [B, Hkv, Tk, D], bias [B, 1, T, Tk] -> [B, T, Hq*D]
at::Tensor textbook(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& bias, double scale) {
  const int64_t G = q.size(1) / k.size(1);
  at::Tensor kr = k.repeat_interleave(G, 1), vr = v.repeat_interleave(G, 1);  // head h reads kv head h / G
  at::Tensor p = at::softmax(at::matmul(q, kr.transpose(-1, -2)) * scale + bias, -1);
  at::Tensor o = at::matmul(p, vr);  // [B, Hq, T, D]
  return o.transpose(1, 2).reshape({q.size(0), q.size(2), -1});
}

struct Case {
  at::Tensor q, k, v, bias;
};

// B = 2 rows, 4 query heads on 2 kv heads, T = 37 (not a multiple of the tile), D = 8; row 1 left-padded.
Case make_case(const at::Tensor& visibility, int64_t window) {
  const int64_t B = 2, T = 37;
  at::manual_seed(3);
  Case c;
  c.q = at::randn({B, 4, T, 8}, at::kDouble);
  c.k = at::randn({B, 2, T, 8}, at::kDouble);
  c.v = at::randn({B, 2, T, 8}, at::kDouble);
  at::Tensor mask = at::ones({B, T}, at::kBool);
  mask[1].narrow(0, 0, 5).fill_(false);
  at::Tensor pos = at::arange(T, at::kLong).unsqueeze(0).repeat({B, 1});
  c.bias = attention_bias(mask, visibility, pos, pos, 0, window, at::kDouble);
  return c;
}

// Row 1's first 5 slots are padding queries that see no key: their outputs are an arbitrary finite
// average (tiles may average fewer keys than the textbook), read by nothing. They are compared only
// through the gradient of the real outputs.
at::Tensor real_queries(const at::Tensor& out) {
  at::Tensor keep = at::ones({2, 37, 1}, at::kDouble);
  keep[1].narrow(0, 0, 5).fill_(0);
  return out * keep;
}

void expect_same_values_and_gradients(const Case& c, int64_t causal_offset, int64_t tile, const at::Tensor& key_spans = {}) {
  at::Tensor q = c.q.clone().requires_grad_(true), k = c.k.clone().requires_grad_(true), v = c.v.clone().requires_grad_(true);
  at::Tensor q2 = c.q.clone().requires_grad_(true), k2 = c.k.clone().requires_grad_(true), v2 = c.v.clone().requires_grad_(true);
  at::Tensor got = real_queries(tiled_attention(q, k, v, c.bias, 0.35, causal_offset, tile, key_spans));
  at::Tensor want = real_queries(textbook(q2, k2, v2, c.bias, 0.35));
  ASSERT_EQ(got.sizes(), want.sizes());
  EXPECT_TRUE(at::allclose(got, want, 1e-12, 1e-12)) << (got - want).abs().max().item<double>();
  at::Tensor up = at::randn(got.sizes(), at::kDouble);
  (got * up).sum().backward();
  (want * up).sum().backward();
  EXPECT_TRUE(at::allclose(q.grad(), q2.grad(), 1e-11, 1e-11)) << (q.grad() - q2.grad()).abs().max().item<double>();
  EXPECT_TRUE(at::allclose(k.grad(), k2.grad(), 1e-11, 1e-11)) << (k.grad() - k2.grad()).abs().max().item<double>();
  EXPECT_TRUE(at::allclose(v.grad(), v2.grad(), 1e-11, 1e-11)) << (v.grad() - v2.grad()).abs().max().item<double>();
  // Without a graph: the same values.
  at::NoGradGuard g;
  EXPECT_TRUE(at::allclose(real_queries(tiled_attention(c.q, c.k, c.v, c.bias, 0.35, causal_offset, tile, key_spans)), want.detach(),
                           1e-12, 1e-12));
}

TEST(TiledAttention, CausalWithPaddingEqualsTheTextbookProduct) {
  Case c = make_case({}, 0);
  for (int64_t tile : {1, 8, 16, 64}) {
    SCOPED_TRACE(tile);
    expect_same_values_and_gradients(c, 0, tile);   // key slots past each tile skipped
    expect_same_values_and_gradients(c, -1, tile);  // every key read
  }
}

TEST(TiledAttention, SlidingWindowAndPrefixSharedVisibility) {
  expect_same_values_and_gradients(make_case({}, 6), 0, 8);
  // Prefix-shared row: prompt 0..9, chosen 10..22, rejected 23..36 sees the prompt and itself only.
  at::Tensor vis = at::ones({37, 37}, at::kBool).tril();
  vis.narrow(0, 23, 14).narrow(1, 10, 13).fill_(false);
  Case c = make_case(vis.unsqueeze(0).repeat({2, 1, 1}), 0);
  expect_same_values_and_gradients(c, 0, 8);
  // With key spans a tile of rejected queries leaves the chosen slots out: the tile of 8 starting at 24
  // and every single-query tile from 23 on read the prompt and the rejected slots only.
  at::Tensor spans = visible_key_spans(c.bias, 0.0);
  ASSERT_TRUE(spans.defined());
  auto span = [&](int64_t b, int64_t i) {
    return std::vector<int64_t>{spans[b][i][0].item<int64_t>(), spans[b][i][1].item<int64_t>(), spans[b][i][2].item<int64_t>()};
  };
  EXPECT_EQ(span(0, 15), (std::vector<int64_t>{0, 0, 0}));    // chosen: sees 0..15, no gap
  EXPECT_EQ(span(0, 23), (std::vector<int64_t>{0, 10, 23}));  // rejected: the chosen slots hidden
  EXPECT_EQ(span(1, 30), (std::vector<int64_t>{5, 10, 23}));  // row 1's 5 padding slots come first
  EXPECT_EQ(span(1, 2), (std::vector<int64_t>{0, 0, 0}));     // a padding query sees nothing
  for (int64_t tile : {1, 8, 64}) {
    SCOPED_TRACE(tile);
    expect_same_values_and_gradients(c, 0, tile, spans);
  }
}

TEST(TiledAttention, PackedRowsSkipTheExamplesBeforeTheirOwn) {
  // Row 0 packs examples of 12, 20 and 5 slots, row 1 of 30 and 7 (after its 5 padding slots the first
  // example is 25 long): block-diagonal causal visibility. With key spans each row's tiles start at their
  // first query's example; the numbers stay the textbook product's.
  at::Tensor vis = at::zeros({2, 37, 37}, at::kBool);
  auto block = [&](int64_t b, int64_t from, int64_t len) { vis[b].narrow(0, from, len).narrow(1, from, len).copy_(at::ones({len, len}, at::kBool).tril()); };
  block(0, 0, 12), block(0, 12, 20), block(0, 32, 5), block(1, 0, 30), block(1, 30, 7);
  Case c = make_case(vis, 0);
  at::Tensor kb = visible_key_spans(c.bias, 0.0);
  ASSERT_TRUE(kb.defined());
  EXPECT_EQ(kb[0][12][0].item<int64_t>(), 12);
  EXPECT_EQ(kb[0][36][0].item<int64_t>(), 32);
  EXPECT_EQ(kb[1][33][0].item<int64_t>(), 30);
  EXPECT_EQ(kb[1][33][1].item<int64_t>(), kb[1][33][2].item<int64_t>());  // no gap inside an example
  for (int64_t tile : {1, 8, 64}) {
    SCOPED_TRACE(tile);
    expect_same_values_and_gradients(c, 0, tile, kb);
  }
  // Plain causal rows save nothing worth a tile per row: no key spans.
  EXPECT_FALSE(visible_key_spans(make_case({}, 0).bias).defined());
}

TEST(TiledAttention, NonCausalVisibilityReadsEveryKey) {
  // A query that sees a later slot: only correct with causal_offset -1 (what CausalLM::forward passes).
  at::Tensor vis = at::ones({2, 37, 37}, at::kBool);
  expect_same_values_and_gradients(make_case(vis, 0), -1, 8);
}

TEST(TiledAttention, CachedDecodingOffset) {
  // 3 new queries after 34 cached keys: query i sees slots <= 34 + i.
  Case c = make_case({}, 0);
  at::Tensor q = c.q.narrow(2, 34, 3);
  at::Tensor bias = c.bias.narrow(2, 34, 3);
  at::Tensor want = textbook(q, c.k, c.v, bias, 0.35);
  EXPECT_TRUE(at::allclose(tiled_attention(q, c.k, c.v, bias, 0.35, 34, 2), want, 1e-12, 1e-12));
}

TEST(TiledAttention, Float32AndBfloat16FollowTheEagerRounding) {
  Case c = make_case({}, 0);
  for (auto dt : {at::kFloat, at::kBFloat16}) {
    at::Tensor q = c.q.to(dt), k = c.k.to(dt), v = c.v.to(dt), bias = c.bias.clamp_min(-3.0e38).to(at::kFloat);  // finite in float32, as attention_bias makes it
    // Eager: scores in the compute dtype, scaled, soft-maxed in float32, probabilities back in dt.
    at::Tensor kr = k.repeat_interleave(2, 1), vr = v.repeat_interleave(2, 1);
    at::Tensor p = at::softmax((at::matmul(q, kr.transpose(-1, -2)) * 0.35).to(at::kFloat) + bias, -1).to(dt);
    at::Tensor want = real_queries(at::matmul(p, vr).transpose(1, 2).reshape({2, 37, -1}).to(at::kDouble));
    at::Tensor got = real_queries(tiled_attention(q, k, v, bias, 0.35, 0, 8).to(at::kDouble));
    const double tol = dt == at::kFloat ? 1e-5 : 2e-2;
    EXPECT_TRUE(at::allclose(got, want, tol, tol)) << (got - want).abs().max().item<double>();
  }
}

// float32 and bf16 run through the tile kernels (attention_kernels.h) in forward and backward (dK and dV
// summed in float32 over the query tiles): values and gradients against the float64 textbook product of
// the same inputs, to float32's precision and to bf16's (relative to the largest gradient).
TEST(TiledAttention, Float32AndBfloat16GradientsFollowFloat64) {
  for (auto dt : {at::kFloat, at::kBFloat16}) {
    Case c = make_case({}, 0);
    at::Tensor q = c.q.to(dt).requires_grad_(true), k = c.k.to(dt).requires_grad_(true), v = c.v.to(dt).requires_grad_(true);
    at::Tensor bias = c.bias.clamp_min(-3.0e38).to(at::kFloat);
    at::Tensor q2 = q.detach().to(at::kDouble).requires_grad_(true), k2 = k.detach().to(at::kDouble).requires_grad_(true),
               v2 = v.detach().to(at::kDouble).requires_grad_(true);
    at::Tensor got = real_queries(tiled_attention(q, k, v, bias, 0.35, 0, 8).to(at::kDouble));
    at::Tensor want = real_queries(textbook(q2, k2, v2, c.bias, 0.35));
    if (dt == at::kFloat) {
      EXPECT_LT((got - want).abs().max().item<double>(), 1e-5);
    }
    at::Tensor up = at::randn(got.sizes(), at::kDouble);
    (got * up).sum().backward();
    (want * up).sum().backward();
    for (auto [a, b] : {std::pair{q.grad(), q2.grad()}, std::pair{k.grad(), k2.grad()}, std::pair{v.grad(), v2.grad()}}) {
      EXPECT_EQ(a.scalar_type(), dt);
      const double tol = dt == at::kFloat ? 1e-4 : 3e-2 * b.abs().max().item<double>();
      EXPECT_LT((a.to(at::kDouble) - b).abs().max().item<double>(), tol) << dt;
    }
  }
}

}  // namespace
}  // namespace prefer::model
