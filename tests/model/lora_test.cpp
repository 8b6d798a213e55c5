// LoRA: B = 0 leaves the base, merged equals adapted, PEFT files round-trip, adapters switch off.
#include "model/lora.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "io/safetensors.h"
#include "model/loader.h"
#include "model/scalar_head.h"
#include "model/scorer.h"
#include "model_test_util.h"

namespace prefer::model {
namespace {

using prefer::test::TempDir;
using test::model_fixture;

at::Tensor logits_of(const CausalLM& m, const std::string& fixture, const std::string& side = "left") {
  auto b = test::fixture_batch(fixture, side);
  at::NoGradGuard ng;
  at::Tensor l = m.logits(m.forward(b.ids, b.positions, {.key_mask = b.mask}));
  return l.index({b.mask.to(at::kBool)});  // real slots only [N, V]
}

// Gives every B a random value so the adapters change the output.
void randomize_b(CausalLM& m, const LoraConfig& c, uint64_t seed) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  at::NoGradGuard ng;
  for (auto& [name, t] : lora_parameters(m, c))
    if (name.find("lora_B") != std::string::npos) t.copy_(at::normal(0.0, 0.05, t.sizes(), gen).to(t.scalar_type()));
}

TEST(Lora, ZeroBLeavesTheBaseModel) {
  CausalLM m = load_model(model_fixture("llama-tiny"));
  at::Tensor base = logits_of(m, "llama-tiny");
  auto names = add_lora(m, {.r = 4, .lora_alpha = 16, .target_modules = {"all-linear"}}, 1);
  EXPECT_EQ(names.size(), 3u * 7u);
  EXPECT_TRUE(at::equal(logits_of(m, "llama-tiny"), base));
}

TEST(Lora, AdapterChangesOutputAndSwitchesOff) {
  CausalLM m = load_model(model_fixture("llama-tiny"));
  at::Tensor base = logits_of(m, "llama-tiny");
  LoraConfig c{.r = 4, .lora_alpha = 8, .target_modules = {"q_proj", "v_proj", "down_proj"}};
  add_lora(m, c, 1);
  randomize_b(m, c, 2);
  at::Tensor adapted = logits_of(m, "llama-tiny");
  EXPECT_GT((adapted - base).abs().max().item<double>(), 1e-4);
  {
    AdaptersDisabled off(m);
    EXPECT_TRUE(at::equal(logits_of(m, "llama-tiny"), base));
  }
  EXPECT_TRUE(at::equal(logits_of(m, "llama-tiny"), adapted));
}

TEST(Lora, MergedForwardEqualsAdapterForward) {
  CausalLM m = load_model(model_fixture("qwen2-tiny"), {.dtype = at::kDouble});
  LoraConfig c{.r = 3, .lora_alpha = 5, .target_modules = {"all-linear"}, .use_rslora = true};
  add_lora(m, c, 4);
  randomize_b(m, c, 5);
  at::Tensor adapted = logits_of(m, "qwen2-tiny");
  // The closed form of the update: y = x W^T + (alpha / sqrt(r)) x A^T B^T.
  const Linear* q = m.linear(Slot::QProj, 0);
  EXPECT_DOUBLE_EQ(q->lora->scale, 5 / std::sqrt(3.0));
  at::Tensor x = at::randn({2, 64}, at::kDouble);
  at::Tensor want = at::matmul(x, q->weight.t()) + q->bias + at::matmul(at::matmul(x, q->lora->A.t()), q->lora->B.t()) * (5 / std::sqrt(3.0));
  EXPECT_TRUE(at::allclose(q->forward(x, {}), want, 1e-12, 1e-12));
  merge_lora(m);
  EXPECT_FALSE(has_lora(m));
  EXPECT_TRUE(at::allclose(logits_of(m, "qwen2-tiny"), adapted, 1e-12, 1e-12));
}

TEST(Lora, SaveLoadRoundTripInPeftFormat) {
  TempDir tmp;
  CausalLM m = load_model(model_fixture("llama-tiny"));
  LoraConfig c{.r = 2, .lora_alpha = 4, .lora_dropout = 0.1, .target_modules = {"q_proj", "gate_proj"},
               .base_model_name_or_path = "llama-tiny"};
  add_lora(m, c, 7);
  randomize_b(m, c, 8);
  at::Tensor adapted = logits_of(m, "llama-tiny");
  save_adapter(m, c, tmp.path());

  Json cfg = read_json_file(tmp / "adapter_config.json");
  EXPECT_EQ(cfg["peft_type"], "LORA");
  EXPECT_EQ(cfg["task_type"], "CAUSAL_LM");
  EXPECT_EQ(cfg["r"], 2);
  EXPECT_EQ(cfg["lora_alpha"], 4.0);
  EXPECT_EQ(cfg["target_modules"], Json({"gate_proj", "q_proj"}));
  io::SafetensorsFile st(tmp / "adapter_model.safetensors");
  EXPECT_EQ(st.tensors().size(), 3u * 2u * 2u);
  const io::TensorInfo* a = st.find("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->shape, (std::vector<int64_t>{2, 64}));
  const io::TensorInfo* b = st.find("base_model.model.model.layers.2.mlp.gate_proj.lora_B.weight");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->shape, (std::vector<int64_t>{160, 2}));

  CausalLM fresh = load_model(model_fixture("llama-tiny"));
  LoraConfig loaded = load_adapter(fresh, tmp.path());
  EXPECT_EQ(loaded.r, 2);
  EXPECT_DOUBLE_EQ(loaded.lora_dropout, 0.1);
  EXPECT_TRUE(at::equal(logits_of(fresh, "llama-tiny"), adapted));
}

TEST(Lora, LoadRejectsAdaptersThatDoNotFit) {
  TempDir tmp;
  CausalLM m = load_model(model_fixture("llama-tiny"));
  LoraConfig c{.r = 2, .target_modules = {"v_proj"}};
  add_lora(m, c);
  save_adapter(m, c, tmp.path());
  CausalLM q = load_model(model_fixture("qwen2-tiny"));  // 2 layers: layer 2 tensors are unexpected
  EXPECT_ERROR_WITH(load_adapter(q, tmp.path()), "unexpected 2 tensor(s)", "model.layers.2.self_attn.v_proj.lora_A.weight");
  EXPECT_FALSE(has_lora(q));
  Json cfg = read_json_file(tmp / "adapter_config.json");
  cfg["use_dora"] = true;
  write_json_file(tmp / "adapter_config.json", cfg);
  EXPECT_ERROR_WITH(read_adapter_config(tmp.path()), "DoRA", "use_dora");
}

TEST(Lora, TargetsFollowPeftMatching) {
  CausalLM m(test::tiny_config("LlamaForCausalLM"));
  EXPECT_EQ(add_lora(m, {}), (std::vector<std::string>{"model.layers.0.self_attn.q_proj", "model.layers.0.self_attn.v_proj",
                                                       "model.layers.1.self_attn.q_proj", "model.layers.1.self_attn.v_proj"}));
  remove_lora(m);
  EXPECT_EQ(add_lora(m, {.target_regex = R"(.*layers\.1\.mlp\.(up|down)_proj)"}).size(), 2u);
  remove_lora(m);
  EXPECT_ERROR_WITH(add_lora(m, {.target_modules = {"qproj"}}), "no linear layer matches", "target_modules");
}

TEST(Lora, OnlyAdaptersReceiveGradients) {
  CausalLM m = load_model(model_fixture("llama-tiny"));
  LoraConfig c{.r = 2, .target_modules = {"all-linear"}};
  add_lora(m, c, 3);
  auto b = test::fixture_batch("llama-tiny", "right");
  at::Tensor resp = b.mask.clone();
  resp.select(1, 0).zero_();
  score(m, b.ids, b.positions, {.key_mask = b.mask}, resp).sum.sum().backward();
  for (auto& [name, t] : m.named_parameters()) EXPECT_FALSE(t.grad().defined()) << name;
  for (auto& [name, t] : lora_parameters(m, c)) {
    ASSERT_TRUE(t.grad().defined()) << name;
    // A gets no gradient while B = 0 (d/dA of B A x is B^T ...); B does.
    if (name.find("lora_B") != std::string::npos) {
      EXPECT_GT(t.grad().abs().max().item<double>(), 0) << name;
    }
  }
}

TEST(Lora, Bfloat16BaseKeepsFloat32Adapters) {
  CausalLM m = load_model(model_fixture("llama-tiny"), {.dtype = at::kBFloat16});
  LoraConfig c{.r = 2};
  add_lora(m, c);
  for (auto& [name, t] : lora_parameters(m, c)) EXPECT_EQ(t.scalar_type(), at::kFloat) << name;
  EXPECT_EQ(logits_of(m, "llama-tiny").scalar_type(), at::kBFloat16);
}

TEST(Lora, DropoutActsOnlyInTrainingMode) {
  CausalLM m = load_model(model_fixture("llama-tiny"));
  LoraConfig c{.r = 4, .lora_dropout = 0.5, .target_modules = {"all-linear"}};
  add_lora(m, c, 1);
  randomize_b(m, c, 2);
  at::Tensor eval1 = logits_of(m, "llama-tiny");
  EXPECT_TRUE(at::equal(logits_of(m, "llama-tiny"), eval1));
  m.set_training(true);
  EXPECT_GT((logits_of(m, "llama-tiny") - eval1).abs().max().item<double>(), 1e-6);
  m.set_training(false);
  EXPECT_TRUE(at::equal(logits_of(m, "llama-tiny"), eval1));
}

TEST(Lora, SequenceClassificationSavesTheScoreHead) {
  TempDir tmp;
  CausalLM m = load_model(model_fixture("qwen2-tiny"));
  add_scalar_head(m, 1, 2);
  LoraConfig c{.r = 2, .task_type = "SEQ_CLS"};
  add_lora(m, c);
  save_adapter(m, c, tmp.path());
  io::SafetensorsFile st(tmp / "adapter_model.safetensors");
  EXPECT_NE(st.find("base_model.model.score.weight"), nullptr);
  EXPECT_EQ(read_json_file(tmp / "adapter_config.json")["modules_to_save"], Json({"classifier", "score"}));
  CausalLM fresh = load_model(model_fixture("qwen2-tiny"));
  load_adapter(fresh, tmp.path());
  EXPECT_TRUE(at::equal(fresh.slot(Slot::Score), m.slot(Slot::Score)));
}

}  // namespace
}  // namespace prefer::model
