// Named adapter sets on one base: each set, switched in, computes exactly what a separate copy of the base
// carrying only that adapter computes; the reference (adapters off) is the bare base.
#include "model/adapter_bank.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>

#include "model/loader.h"
#include "model/lora.h"
#include "model_test_util.h"

namespace prefer::model {
namespace {

using test::model_fixture;

at::Tensor hidden_of(const CausalLM& m) {
  auto b = test::fixture_batch("llama-tiny", "left");
  at::NoGradGuard ng;
  return m.forward(b.ids, b.positions, {.key_mask = b.mask});
}

void randomize_b(CausalLM& m, uint64_t seed) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  at::NoGradGuard ng;
  for (auto& [name, t] : lora_parameters(m, {}))
    if (name.find("lora_B") != std::string::npos) t.copy_(at::normal(0.0, 0.05, t.sizes(), gen).to(t.scalar_type()));
}

TEST(AdapterBank, EachSetEqualsItsOwnCopyOfTheBase) {
  const LoraConfig a{.r = 4, .lora_alpha = 8, .target_modules = {"all-linear"}};
  const LoraConfig b{.r = 2, .lora_alpha = 4, .target_modules = {"q_proj", "v_proj"}};
  CausalLM shared = load_model(model_fixture("llama-tiny"));
  const at::Tensor base = hidden_of(shared);
  AdapterBank bank(shared);
  add_lora(shared, a, 1);
  randomize_b(shared, 11);
  bank.keep("policy");
  bank.clear();
  EXPECT_TRUE(at::equal(hidden_of(shared), base));  // cleared: the bare base
  add_lora(shared, b, 2);
  randomize_b(shared, 12);
  bank.keep("value");

  CausalLM only_a = load_model(model_fixture("llama-tiny"));
  add_lora(only_a, a, 1);
  randomize_b(only_a, 11);
  CausalLM only_b = load_model(model_fixture("llama-tiny"));
  add_lora(only_b, b, 2);
  randomize_b(only_b, 12);

  bank.activate("policy");
  EXPECT_TRUE(at::equal(hidden_of(shared), hidden_of(only_a)));
  {
    ActiveAdapter on(bank, "value");
    EXPECT_EQ(bank.active(), "value");
    EXPECT_TRUE(at::equal(hidden_of(shared), hidden_of(only_b)));
  }
  EXPECT_EQ(bank.active(), "policy");  // the scope put the policy back
  EXPECT_TRUE(at::equal(hidden_of(shared), hidden_of(only_a)));
  {
    AdaptersDisabled off(shared);
    EXPECT_TRUE(at::equal(hidden_of(shared), base));
  }
  EXPECT_FALSE(at::equal(hidden_of(only_a), hidden_of(only_b)));
  EXPECT_THROW(bank.activate("reward"), Error);
}

TEST(AdapterBank, SwitchingAfterForwardLeavesTheGradientOfTheSetUsed) {
  CausalLM m = load_model(model_fixture("llama-tiny"));
  m.set_requires_grad(false);
  AdapterBank bank(m);
  add_lora(m, {.r = 2, .lora_alpha = 2, .target_modules = {"q_proj"}}, 3);
  randomize_b(m, 5);
  bank.keep("policy");
  auto policy_params = lora_parameters(m, {});
  bank.clear();
  add_lora(m, {.r = 2, .lora_alpha = 2, .target_modules = {"q_proj"}}, 4);
  bank.keep("value");
  auto value_params = lora_parameters(m, {});
  bank.activate("policy");
  auto b = test::fixture_batch("llama-tiny", "left");
  at::Tensor out = m.forward(b.ids, b.positions, {.key_mask = b.mask}).sum();
  bank.activate("value");  // the graph keeps the tensors it used
  out.backward();
  for (auto& [n, t] : policy_params) EXPECT_TRUE(t.grad().defined()) << n;
  for (auto& [n, t] : value_params) EXPECT_FALSE(t.grad().defined()) << n;
}

TEST(AdapterBank, SeqClsAdapterKeepsTheLmHeadWhenItsScoreHeadGoesElsewhere) {
  prefer::test::TempDir tmp;
  CausalLM rm = load_model(model_fixture("llama-tiny"));
  rm.set_head(io::HeadKind::SequenceClassification, 1);
  rm.slot(Slot::Score) = at::full({1, rm.config().hidden_size}, 0.25);
  const LoraConfig c{.r = 2, .lora_alpha = 2, .target_modules = {"q_proj"}, .task_type = "SEQ_CLS"};
  add_lora(rm, c, 1);
  save_adapter(rm, c, tmp.path());

  CausalLM m = load_model(model_fixture("llama-tiny"));
  const at::Tensor lm = m.lm_head_weight().clone();
  at::Tensor head;
  load_adapter(m, tmp.path(), &head);
  EXPECT_EQ(m.config().head, io::HeadKind::CausalLM);
  EXPECT_TRUE(at::equal(m.lm_head_weight(), lm));
  ASSERT_TRUE(head.defined());
  EXPECT_TRUE(at::allclose(head, at::full({1, m.config().hidden_size}, 0.25)));
}

}  // namespace
}  // namespace prefer::model
