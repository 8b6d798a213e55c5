// Mixed precision (CausalLM::set_mixed_precision) against the float64 reference forward run as
// autocast computes: every GEMM's inputs and output rounded to bf16, the residual stream, norms and
// embeddings unrounded. Pure bf16 (every weight and the residual stream in bf16) is the contrast.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "model/causal_lm.h"
#include "model/loader.h"
#include "model/save.h"
#include "model_test_util.h"
#include "reference_forward.h"
#include "test_util.h"

namespace prefer::model {
namespace {

// A bf16 model (mixed or pure) holding the float32 model's weights, each rounded only where its slot's
// dtype needs it.
CausalLM bf16_copy(const CausalLM& f32, bool mixed) {
  CausalLM m(f32.config(), {.dtype = at::kBFloat16});
  m.set_mixed_precision(mixed);
  at::NoGradGuard ng;
  auto src = f32.named_parameters();
  auto dst = m.named_parameters();
  for (size_t i = 0; i < src.size(); ++i) dst[i].second.copy_(src[i].second);
  return m;
}

struct Case {
  std::string label, arch;
  Json extra;
};

class MixedPrecision : public ::testing::TestWithParam<Case> {};

TEST_P(MixedPrecision, FollowsAutocastCloserThanPureBf16) {
  const Case& tc = GetParam();
  io::ModelConfig cfg = test::tiny_config(tc.arch, tc.extra);
  CausalLM f32(cfg, {.dtype = at::kFloat});
  test::randomize(f32, 7, 0.2);
  test::Weights w;
  for (auto& [name, t] : f32.named_parameters()) w[name] = t;
  const std::vector<int64_t> ids = {1, 7, 30, 12, 44, 3, 9, 21, 17, 5, 33, 40};
  const at::Tensor autocast = test::reference_logits(cfg, w, ids, at::kBFloat16);
  const double scale = autocast.abs().max().item<double>();
  at::NoGradGuard ng;
  auto err = [&](const CausalLM& m) {
    at::Tensor x = test::ids_tensor(ids);
    at::Tensor pos = at::arange(static_cast<int64_t>(ids.size()), at::kLong).unsqueeze(0);
    at::Tensor h = m.forward(x, pos, {});
    EXPECT_EQ(h.scalar_type(), at::kBFloat16);
    return (m.logits(h)[0].to(at::kDouble) - autocast).abs().max().item<double>() / scale;
  };
  const double mixed = err(bf16_copy(f32, true)), pure = err(bf16_copy(f32, false));
  RecordProperty("mixed_rel_error", std::to_string(mixed));
  RecordProperty("pure_rel_error", std::to_string(pure));
  EXPECT_LT(mixed, 0.75 * pure) << tc.label << ": mixed " << mixed << ", pure " << pure;
  EXPECT_LT(mixed, 2e-2) << tc.label;
}

INSTANTIATE_TEST_SUITE_P(
    Families, MixedPrecision,
    ::testing::Values(Case{"llama", "LlamaForCausalLM", Json::object()},
                      Case{"qwen3_qk_norm_tied", "Qwen3ForCausalLM", {{"head_dim", 16}, {"tie_word_embeddings", true}}},
                      Case{"gemma_scaled_plus_one", "GemmaForCausalLM",
                           {{"hidden_act", "gelu_pytorch_tanh"}, {"hidden_activation", "gelu_pytorch_tanh"}}}),
    [](const ::testing::TestParamInfo<Case>& i) { return i.param.label; });

TEST(MixedPrecisionModel, IslandsAreFloat32AndGradientsReachThem) {
  io::ModelConfig cfg = test::tiny_config("Qwen3ForCausalLM", {{"head_dim", 16}, {"tie_word_embeddings", true}});
  CausalLM f32(cfg, {.dtype = at::kFloat});
  test::randomize(f32, 3);
  CausalLM m = bf16_copy(f32, true);
  EXPECT_TRUE(m.mixed_precision());
  for (auto& [name, t] : m.named_parameters()) {
    const bool island = name.find("norm") != std::string::npos || name.find("embed") != std::string::npos;
    EXPECT_EQ(t.scalar_type(), island ? at::kFloat : at::kBFloat16) << name;
  }
  // The tied LM head is a bf16 cast of the float32 embeddings; their gradient arrives in float32 from
  // both uses and follows the float32 model's.
  m.set_requires_grad(true);
  f32.set_requires_grad(true);
  const std::vector<int64_t> ids = {1, 7, 30, 12, 44, 3};
  auto loss = [&](CausalLM& model) {
    at::Tensor pos = at::arange(6, at::kLong).unsqueeze(0);
    at::Tensor logits = model.logits(model.forward(test::ids_tensor(ids), pos, {})).to(at::kFloat);
    return at::log_softmax(logits, -1).select(-1, 4).sum();
  };
  loss(m).backward();
  loss(f32).backward();
  at::Tensor g = m.slot(Slot::Embed).grad(), g32 = f32.slot(Slot::Embed).grad();
  ASSERT_TRUE(g.defined());
  EXPECT_EQ(g.scalar_type(), at::kFloat);
  EXPECT_LT((g - g32).abs().max().item<double>(), 5e-2 * g32.abs().max().item<double>());
  EXPECT_EQ(m.slot(Slot::QNorm, 0).grad().scalar_type(), at::kFloat);
  // Off again: every weight in bf16.
  m.set_mixed_precision(false);
  for (auto& [name, t] : m.named_parameters()) EXPECT_EQ(t.scalar_type(), at::kBFloat16) << name;
  // A float32 model has no islands to keep.
  f32.set_mixed_precision(true);
  EXPECT_FALSE(f32.mixed_precision());
}

TEST(MixedPrecisionModel, LoaderReadsIslandsAtFullPrecisionAndSavesTheComputeDtype) {
  io::ModelConfig cfg = test::tiny_config("LlamaForCausalLM");
  CausalLM f32(cfg, {.dtype = at::kFloat});
  test::randomize(f32, 5);
  prefer::test::TempDir dir;
  save_pretrained(f32, dir.path() / "m");
  CausalLM m = load_model(dir.path() / "m", {.dtype = at::kBFloat16, .mixed_precision = true});
  // Not rounded through bf16 on the way in.
  EXPECT_TRUE(at::equal(m.slot(Slot::Embed), f32.slot(Slot::Embed)));
  EXPECT_TRUE(at::equal(m.slot(Slot::InputNorm, 1), f32.slot(Slot::InputNorm, 1)));
  EXPECT_EQ(m.slot(Slot::QProj, 0).scalar_type(), at::kBFloat16);
  save_pretrained(m, dir.path() / "out");
  CausalLM back = load_model(dir.path() / "out", {.dtype = at::kFloat});
  EXPECT_EQ(read_json_file(dir.path() / "out" / "config.json").value("torch_dtype", ""), "bfloat16");
  EXPECT_TRUE(at::equal(back.slot(Slot::Embed), f32.slot(Slot::Embed).to(at::kBFloat16).to(at::kFloat)));
}

TEST(MixedPrecisionModel, LoaderKeepsFloat32ValuesOfBf16WeightsUntilTaken) {
  io::ModelConfig cfg = test::tiny_config("LlamaForCausalLM");
  CausalLM f32(cfg, {.dtype = at::kFloat});
  test::randomize(f32, 6);
  prefer::test::TempDir dir;
  save_pretrained(f32, dir.path() / "m");
  CausalLM m = load_model(dir.path() / "m", {.dtype = at::kBFloat16, .mixed_precision = true, .keep_full_precision = true});
  const at::Tensor q = m.slot(Slot::QProj, 1);
  ASSERT_EQ(q.scalar_type(), at::kBFloat16);
  at::Tensor full = m.take_full_precision(q);
  ASSERT_TRUE(full.defined());
  EXPECT_EQ(full.scalar_type(), at::kFloat);
  EXPECT_TRUE(at::equal(full, f32.slot(Slot::QProj, 1)));  // the file's values, not bf16's rounding
  EXPECT_FALSE(at::equal(full, q.to(at::kFloat)));
  EXPECT_FALSE(m.take_full_precision(q).defined());  // handed over once
  // Float32 islands need no copy; replacing weights drops the rest.
  EXPECT_FALSE(m.take_full_precision(m.slot(Slot::Embed)).defined());
  ASSERT_TRUE(m.take_full_precision(m.slot(Slot::UpProj, 0)).defined());
  load_weights(m, io::Checkpoint::open_folder(dir.path() / "m"));
  EXPECT_FALSE(m.take_full_precision(m.slot(Slot::DownProj, 0)).defined());
  // Not asked for, or a bf16 checkpoint: nothing kept.
  CausalLM plain = load_model(dir.path() / "m", {.dtype = at::kBFloat16, .mixed_precision = true});
  EXPECT_FALSE(plain.take_full_precision(plain.slot(Slot::QProj, 1)).defined());
  save_pretrained(plain, dir.path() / "bf16");
  CausalLM from16 = load_model(dir.path() / "bf16", {.dtype = at::kBFloat16, .keep_full_precision = true});
  EXPECT_FALSE(from16.take_full_precision(from16.slot(Slot::QProj, 1)).defined());
}

}  // namespace
}  // namespace prefer::model
