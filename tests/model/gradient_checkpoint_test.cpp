// Gradient checkpointing recomputes each decoder layer in backward: the gradients must equal the plain
// forward's (float32, 1e-6), with LoRA dropout active (the recomputation replays the same masks), for
// full fine-tuning and for LoRA on a 4-bit base.
#include "model/gradient_checkpoint.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "model/loader.h"
#include "model/lora.h"
#include "model/quantized_model.h"
#include "model_test_util.h"

namespace prefer::model {
namespace {

// Gradients of sum(logits * R) over the trainable tensors, with checkpointing on or off.
std::vector<at::Tensor> grads(CausalLM& m, const std::vector<at::Tensor>& params, bool checkpoint) {
  for (const at::Tensor& p : params)
    if (p.grad().defined()) const_cast<at::Tensor&>(p).mutable_grad() = at::Tensor();
  m.set_gradient_checkpointing(checkpoint);
  test::FixtureBatch b = test::fixture_batch("llama-tiny", "right");
  at::manual_seed(123);  // the same dropout masks in both runs
  at::Tensor logits = m.logits(m.forward(b.ids, b.positions, {.key_mask = b.mask}));
  auto gen = at::make_generator<at::CPUGeneratorImpl>(9);
  at::Tensor R = at::normal(0.0, 1.0, logits.sizes(), gen).to(logits.scalar_type());
  (logits * R * b.mask.unsqueeze(-1)).sum().backward();
  std::vector<at::Tensor> out;
  for (const at::Tensor& p : params) out.push_back(p.grad().clone());
  return out;
}

void expect_same(const std::vector<at::Tensor>& a, const std::vector<at::Tensor>& b, double tol = 1e-6) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    ASSERT_EQ(a[i].scalar_type(), b[i].scalar_type()) << "tensor " << i;
    const double scale = std::max(1.0, a[i].abs().max().item<double>());
    EXPECT_LT((a[i] - b[i]).abs().max().item<double>() / scale, tol) << "tensor " << i;
  }
}

TEST(GradientCheckpointTest, FullFineTuningGradientsEqual) {
  CausalLM m = load_model(test::model_fixture("llama-tiny"));
  m.set_requires_grad(true);
  std::vector<at::Tensor> params;
  for (auto& [n, t] : m.named_parameters()) params.push_back(t);
  expect_same(grads(m, params, false), grads(m, params, true));
}

// bf16 mixed precision (the default of --bf16): float32 residual stream and norms, bf16 GEMMs. The
// recomputation must run the layer in the same compute dtype as the forward (it once ran it in float32
// and failed on the bf16 weights).
TEST(GradientCheckpointTest, MixedPrecisionBf16GradientsEqual) {
  CausalLM m = load_model(test::model_fixture("llama-tiny"), {.dtype = at::kBFloat16, .mixed_precision = true});
  m.set_requires_grad(true);
  std::vector<at::Tensor> params;
  for (auto& [n, t] : m.named_parameters()) params.push_back(t);
  // The same operations on the same inputs: equal up to the order bf16 gradients are summed in.
  expect_same(grads(m, params, false), grads(m, params, true), 1e-2);
}

TEST(GradientCheckpointTest, LoraWithDropoutOnFourBitBaseGradientsEqual) {
  QuantizationConfig qc;
  qc.load_in_4bit = true;
  CausalLM m = load_model(test::model_fixture("llama-tiny"), {.quantization = qc});
  m.set_requires_grad(false);
  LoraConfig lc{.r = 4, .lora_alpha = 8, .lora_dropout = 0.3, .target_modules = {"all-linear"}};
  add_lora(m, lc, 1);
  {
    at::NoGradGuard ng;
    for (auto& [n, t] : lora_parameters(m, lc)) t.normal_(0.0, 0.05);  // B != 0: every path carries gradient
  }
  m.set_training(true);
  std::vector<at::Tensor> params;
  for (auto& [n, t] : lora_parameters(m, lc)) params.push_back(t);
  auto plain = grads(m, params, false);
  auto ckpt = grads(m, params, true);
  expect_same(plain, ckpt);
  EXPECT_GT(plain.front().abs().max().item<double>(), 0);
}

}  // namespace
}  // namespace prefer::model
