// The scalar head reads the last real token: with score.weight set to a row of the LM head, the reward
// equals the fixture's logit at that token.
#include "model/scalar_head.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "model/loader.h"
#include "model_test_util.h"

namespace prefer::model {
namespace {

TEST(ScalarHead, LastRealIndexForBothPaddings) {
  at::Tensor m = at::tensor({0, 0, 1, 1, 1, 1, 1, 0, 1, 1, 1, 1}, at::kLong).view({3, 4});
  EXPECT_TRUE(at::equal(last_real_index(m), at::tensor({3, 2, 3}, at::kLong)));
  EXPECT_ERROR_WITH(last_real_index(at::zeros({1, 3}, at::kLong)), "no real token");
}

TEST(ScalarHead, ReadsTheLastRealTokenOfEachRow) {
  const std::string name = "llama-tiny";
  CausalLM m = load_model(test::model_fixture(name));
  at::Tensor lm_head = m.lm_head_weight().clone();
  add_scalar_head(m, 2);
  const int64_t k0 = 17, k1 = 250;
  m.slot(Slot::Score) = at::stack({lm_head[k0], lm_head[k1]});
  at::NoGradGuard ng;
  for (const std::string side : {"left", "right"}) {
    auto b = test::fixture_batch(name, side);
    at::Tensor r = scalar_head(m, m.forward(b.ids, b.positions, {.key_mask = b.mask}), b.mask);  // [3, 2]
    ASSERT_EQ(r.sizes(), at::IntArrayRef({3, 2}));
    at::Tensor want = test::expected_tensor(name, "logits_" + side);
    at::Tensor last = last_real_index(b.mask);
    for (int64_t i = 0; i < 3; ++i) {
      const int64_t t = last[i].item<int64_t>();
      EXPECT_NEAR(r[i][0].item<double>(), want[i][t][k0].item<double>(), 1e-5) << side << i;
      EXPECT_NEAR(r[i][1].item<double>(), want[i][t][k1].item<double>(), 1e-5) << side << i;
    }
  }
}

TEST(ScalarHead, CausalModelHasNone) {
  CausalLM m = load_model(test::model_fixture("qwen2-tiny"));
  EXPECT_ERROR_WITH(scalar_head(m, at::zeros({1, 2, 64}), at::ones({1, 2})), "no scalar head");
}

TEST(ScalarHead, AllPositionsForValueModels) {
  CausalLM m(test::tiny_config("Qwen2ForCausalLM"), {.dtype = at::kDouble});
  test::randomize(m, 5);
  add_scalar_head(m, 1, 9);
  at::Tensor h = at::randn({2, 3, 32}, at::kDouble);
  at::Tensor v = scalar_head_all(m, h);
  ASSERT_EQ(v.sizes(), at::IntArrayRef({2, 3, 1}));
  EXPECT_NEAR(v[1][2][0].item<double>(), (h[1][2] * m.slot(Slot::Score)[0]).sum().item<double>(), 1e-12);
}

}  // namespace
}  // namespace prefer::model
