#include "train/dpo_recipe.h"

#include <ATen/ATen.h>

#include <cmath>

#include "model/loader.h"
#include "model/lora.h"
#include "pairs_fixture.h"
#include "test_util.h"

namespace prefer::train {

namespace {
data::TokenizedDataset pairs() {
  data::TokenizedDataset d;
  auto add = [&](std::vector<int32_t> p, std::vector<int32_t> c, std::vector<int32_t> r) { test::add_pair(d, p, c, r); };
  add({1, 290, 302}, {281, 273, 286, 121}, {51, 4});
  add({1, 77, 110, 265, 266}, {37}, {38, 39, 40, 41, 42, 4});
  add({1, 5, 6}, {7, 8}, {9});
  return d;
}
}  // namespace

TEST(DpoRecipe, LossIsLn2WhenPolicyEqualsReference) {
  // With policy = reference every margin is 0, so the sigmoid loss is -log sigmoid(0) = ln 2 exactly.
  model::CausalLM policy = model::load_model(test::fixture("models/llama-tiny"));
  model::add_lora(policy, {.r = 4, .lora_alpha = 8, .target_modules = {"q_proj", "v_proj"}}, 1);  // B = 0: no change yet
  DpoRecipe recipe(policy, nullptr, {});
  data::TokenizedDataset d = pairs();
  EXPECT_EQ(recipe.reference().kind(d), ReferenceKind::AdaptersOff);
  DpoStepOutput out = recipe.step(d, {0, 1, 2}, true);
  EXPECT_NEAR(out.loss.item<double>(), std::log(2.0), 1e-12);
  EXPECT_NEAR(objectives::metric_value(out.metrics, "rewards/margins"), 0.0, 1e-12);
  EXPECT_EQ(out.pairs, 3);
  EXPECT_TRUE(out.metrics.count("logits/chosen"));
  // The loss still has a gradient w.r.t. the adapters (through B, since A is random).
  out.loss.backward();
  int64_t with_grad = 0;
  for (auto& [name, t] : model::lora_parameters(policy, {.r = 4, .lora_alpha = 8, .target_modules = {"q_proj", "v_proj"}}))
    with_grad += t.grad().defined() && t.grad().abs().sum().item<double>() > 0;
  EXPECT_GT(with_grad, 0);
}

TEST(DpoRecipe, FrozenCopyAndTableGiveTheSameLoss) {
  model::CausalLM policy = model::load_model(test::fixture("models/llama-tiny"));
  model::CausalLM reference = model::load_model(test::fixture("models/llama-tiny"));
  // Make the policy differ from the reference, so the loss is not ln 2.
  {
    at::NoGradGuard g;
    for (auto& [name, t] : policy.named_parameters())
      if (name.find("mlp.up_proj") != std::string::npos) t.mul_(1.5);
  }
  data::TokenizedDataset d = pairs();
  DpoRecipe live(policy, &reference, {});
  double l_live = live.step(d, {0, 1, 2}, false).loss.item<double>();
  EXPECT_GT(std::abs(l_live - std::log(2.0)), 1e-4);
  auto [c, r] = live.reference().sums(d, {0, 1, 2}, data::make_batch(d, {0, 1, 2}));
  DpoRecipe cached(policy, nullptr, {});
  cached.reference().set_table(d, c, r);
  EXPECT_EQ(cached.reference().kind(d), ReferenceKind::Table);
  EXPECT_NEAR(cached.step(d, {0, 1, 2}, false).loss.item<double>(), l_live, 1e-12);
  // The table is indexed by dataset row: a subset in another order reads the right rows. (The live
  // reference now runs on a batch padded to another length: float32 rounding differs, ~1e-8.)
  DpoRecipe sub_live(policy, &reference, {});
  EXPECT_NEAR(cached.step(d, {2, 0}, false).loss.item<double>(), sub_live.step(d, {2, 0}, false).loss.item<double>(), 1e-6);
}

TEST(DpoRecipe, PrefixSharedLayoutGivesTheSameLoss) {
  model::CausalLM policy = model::load_model(test::fixture("models/qwen2-tiny"));
  model::CausalLM reference = model::load_model(test::fixture("models/qwen2-tiny"));
  {
    at::NoGradGuard g;
    for (auto& [name, t] : policy.named_parameters())
      if (name.find("o_proj") != std::string::npos) t.mul_(2.0);
  }
  data::TokenizedDataset d = pairs();
  DpoRecipeOptions concat, shared;
  shared.batch.layout = data::BatchLayout::PrefixShared;
  DpoRecipe a(policy, &reference, concat), b(policy, &reference, shared);
  EXPECT_NEAR(a.step(d, {0, 1, 2}, false).loss.item<double>(), b.step(d, {0, 1, 2}, false).loss.item<double>(), 1e-6);
  // WPO's weights come from the same scored slots in either layout.
  concat.dpo.use_weighting = shared.dpo.use_weighting = true;
  DpoRecipe wa(policy, &reference, concat), wb(policy, &reference, shared);
  const double wpo = wa.step(d, {0, 1, 2}, false).loss.item<double>();
  EXPECT_NEAR(wpo, wb.step(d, {0, 1, 2}, false).loss.item<double>(), 1e-6);
  EXPECT_LT(wpo, a.step(d, {0, 1, 2}, false).loss.item<double>());  // weights below 1 on a random model
}

TEST(DpoRecipe, NoReferenceIsAnError) {
  model::CausalLM policy = model::load_model(test::fixture("models/llama-tiny"));
  DpoRecipe recipe(policy, nullptr, {});
  data::TokenizedDataset d = pairs();
  EXPECT_ERROR_WITH(recipe.step(d, {0}, false), "no reference model");
}

TEST(Reference, PrecomputedTableIsCachedByModelAndData) {
  model::CausalLM policy = model::load_model(test::fixture("models/llama-tiny"));
  data::TokenizedDataset d = pairs();
  test::TempDir cache;
  Reference ref(policy, nullptr);
  ref.use_policy_as_reference(true);
  const ReferenceTable& t = ref.precompute(d, {}, 7, cache.path(), 2);
  EXPECT_FALSE(t.from_cache);
  at::Tensor live = ref.scores(data::make_batch(d, {0, 1, 2})).sum.to(at::kDouble);
  EXPECT_TRUE(at::allclose(t.chosen, live.slice(0, 0, 3), 1e-6, 1e-9));
  EXPECT_TRUE(at::allclose(t.rejected, live.slice(0, 3, 6), 1e-6, 1e-9));
  EXPECT_EQ(ref.kind(d), ReferenceKind::Table);
  Reference again(policy, nullptr);
  EXPECT_TRUE(again.precompute(d, {}, 7, cache.path(), 3).from_cache);
  // Another model key is another table: computed, not read. (No adapters and not the policy: an error.)
  Reference other(policy, nullptr);
  EXPECT_ERROR_WITH(other.precompute(d, {}, 9, cache.path(), 3), "no reference model");
}

}  // namespace prefer::train
