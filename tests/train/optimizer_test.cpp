#include "train/optimizer.h"

#include <ATen/ATen.h>
#include <torch/optim/adamw.h>

#include <cmath>

#include "test_util.h"
#include "train/state_file.h"
#include "util/error.h"

namespace prefer::train {

namespace {

at::Tensor leaf(const at::Tensor& value) { return value.detach().clone().requires_grad_(true); }

void set_grad(const at::Tensor& p, const at::Tensor& g) { p.mutable_grad() = g.to(p.scalar_type()).clone(); }

// A deterministic gradient for parameter `i` at step `t`, the same in every run of a test.
at::Tensor grad_for(const at::Tensor& p, int i, int t) {
  at::Generator gen = at::detail::createCPUGenerator(1000 * static_cast<uint64_t>(t) + i);
  return at::randn(p.sizes(), gen, at::kFloat);
}

}  // namespace

// The first two AdamW updates of a scalar, in closed form. p0 = 1, g = 0.5 then -0.25, lr 0.1,
// weight_decay 0.01, betas (0.9, 0.999), eps 1e-8:
//   step 1: p = 0.999; m = 0.05; v = 0.00025; m/(1-0.9) = 0.5; sqrt(v/(1-0.999)) = 0.5
//           p = 0.999 - 0.1 * 0.5 / (0.5 + 1e-8) = 0.899000002
//   step 2: p = 0.899000002 * 0.999; m = 0.9 * 0.05 - 0.1 * 0.25 = 0.02; v = 0.999 * 0.00025 + 0.001 * 0.0625
//           = 0.00031225; p -= (0.1 / 0.19) * 0.02 / (sqrt(0.00031225) / sqrt(0.001999) + 1e-8) -> 0.8714672987058463
TEST(AdamW, FirstTwoStepsMatchTheClosedForm) {
  at::Tensor p = leaf(at::ones({}, at::kDouble));
  AdamW opt({p}, {.weight_decay = 0.01});
  set_grad(p, at::full({}, 0.5, at::kDouble));
  opt.step(0.1);
  EXPECT_NEAR(p.item<double>(), 0.999 - 0.1 * 0.5 / (0.5 + 1e-8), 1e-15);
  EXPECT_NEAR(opt.state(0).exp_avg.item<double>(), 0.05, 1e-15);
  EXPECT_NEAR(opt.state(0).exp_avg_sq.item<double>(), 0.00025, 1e-17);
  set_grad(p, at::full({}, -0.25, at::kDouble));
  opt.step(0.1);
  const double p1 = 0.999 - 0.1 * 0.5 / (0.5 + 1e-8);
  const double expected = p1 * 0.999 - (0.1 / 0.19) * 0.02 / (std::sqrt(0.00031225) / std::sqrt(0.001999) + 1e-8);
  EXPECT_NEAR(p.item<double>(), expected, 1e-14);
  EXPECT_NEAR(p.item<double>(), 0.8714672987058463, 1e-14);
  EXPECT_EQ(opt.steps(), 2);
  EXPECT_EQ(opt.state(0).step, 2);
}

// LibTorch's own C++ AdamW is an independent implementation of the same update.
TEST(AdamW, MatchesLibTorchAdamWInFloat32) {
  at::manual_seed(7);
  std::vector<at::Tensor> init = {at::randn({4, 3}), at::randn({3}), at::randn({2, 2, 2})};
  std::vector<at::Tensor> ours, theirs;
  for (const at::Tensor& t : init) {
    ours.push_back(leaf(t));
    theirs.push_back(leaf(t));
  }
  const double wd = 0.1;
  AdamW opt({{.params = {ours[0], ours[2]}, .weight_decay = wd}, {.params = {ours[1]}, .weight_decay = 0.0}},
            {.beta1 = 0.8, .beta2 = 0.99, .eps = 1e-6});
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(std::vector<at::Tensor>{theirs[0], theirs[2]},
                      std::make_unique<torch::optim::AdamWOptions>(
                          torch::optim::AdamWOptions(1e-3).betas({0.8, 0.99}).eps(1e-6).weight_decay(wd)));
  groups.emplace_back(std::vector<at::Tensor>{theirs[1]},
                      std::make_unique<torch::optim::AdamWOptions>(
                          torch::optim::AdamWOptions(1e-3).betas({0.8, 0.99}).eps(1e-6).weight_decay(0.0)));
  torch::optim::AdamW ref(std::move(groups), torch::optim::AdamWOptions(1e-3));

  const int order[] = {0, 2, 1};  // our flat index -> init index
  for (int t = 1; t <= 6; ++t) {
    const double lr = 1e-2 / t;
    for (int i = 0; i < 3; ++i) {
      set_grad(ours[order[i]], grad_for(init[order[i]], order[i], t));
      set_grad(theirs[order[i]], grad_for(init[order[i]], order[i], t));
    }
    opt.step(lr);
    for (auto& g : ref.param_groups()) static_cast<torch::optim::AdamWOptions&>(g.options()).lr(lr);
    ref.step();
  }
  for (int i = 0; i < 3; ++i)
    EXPECT_TRUE(at::allclose(ours[i], theirs[i], 1e-6, 1e-7)) << "parameter " << i << "\n"
                                                                << ours[i] << "\n" << theirs[i];
}

TEST(AdamW, FusedAndOpByOpUpdatesAgreeToRounding) {
  // A non-contiguous parameter takes the op-by-op path; the same values stored contiguously take the
  // fused one. Same formula and order; ATen's vectorised kernels may round the last bit differently
  // (a scalar divisor applied as a reciprocal, fused multiply-adds), so: equal to a few ulps.
  for (auto dt : {at::kFloat, at::kDouble}) {
    at::Tensor base = at::randn({5, 7}, dt);
    at::Tensor fused = leaf(base.clone());
    at::Tensor strided = base.t().contiguous().t().detach().requires_grad_(true);  // same values, transposed strides
    ASSERT_FALSE(strided.is_contiguous());
    AdamW a({{.params = {fused}, .weight_decay = 0.05}}, {.beta1 = 0.7, .beta2 = 0.95, .eps = 1e-7});
    AdamW b({{.params = {strided}, .weight_decay = 0.05}}, {.beta1 = 0.7, .beta2 = 0.95, .eps = 1e-7});
    for (int t = 1; t <= 5; ++t) {
      at::Tensor g = at::randn({5, 7}, dt);
      set_grad(fused, g.clone());
      set_grad(strided, g.t().contiguous().t());
      a.step(1e-2 / t);
      b.step(1e-2 / t);
    }
    const double tol = dt == at::kFloat ? 1e-6 : 1e-14;
    EXPECT_TRUE(at::allclose(fused.detach(), strided.detach().contiguous(), tol, tol)) << dt;
    EXPECT_FALSE(at::equal(fused.detach(), base)) << "the parameters moved";
  }
}

TEST(AdamW, Bfloat16ParametersKeepAFloat32Master) {
  // lr 1e-4: every update (about lr, Adam's normalised step) is below half a bf16 ulp at 1.0 (2^-8), so
  // updating bf16 weights directly would never move them. The master accumulates the updates.
  at::Tensor p16 = leaf(at::ones({4}, at::kBFloat16));
  at::Tensor p32 = leaf(at::ones({4}, at::kFloat));
  AdamW opt16({p16}), opt32({p32});
  for (int t = 0; t < 50; ++t) {
    set_grad(p16, at::ones({4}));  // 1 is exact in bf16: both runs see the same gradient
    set_grad(p32, at::ones({4}));
    opt16.step(1e-4);
    opt32.step(1e-4);
  }
  EXPECT_EQ(opt16.state(0).exp_avg.scalar_type(), at::kFloat);
  ASSERT_TRUE(opt16.state(0).master.defined());
  EXPECT_FALSE(opt32.state(0).master.defined());
  // The fp32 master runs the same float32 computation as an fp32 parameter: bit-identical.
  EXPECT_TRUE(at::equal(opt16.state(0).master, p32.detach()));
  EXPECT_TRUE(at::equal(p16.detach(), opt16.state(0).master.to(at::kBFloat16)));
  EXPECT_LT(p16[0].item<float>(), 1.0f);  // ~0.995 -> 0.99609375 in bf16
  EXPECT_EQ(opt16.state_bytes(), 4 * 4 * 3);
  EXPECT_EQ(opt32.state_bytes(), 4 * 4 * 2);
}

TEST(AdamW, MasterStartsFromGivenFloat32Values) {
  // The weights a float32 checkpoint holds, and their bf16 rounding as the model computes with them.
  // Adam's first step moves each weight by lr * g / (|g| + eps) (bias corrections cancel): with lr 1e-5,
  // about a tenth of a bf16 ulp at 0.02. From the rounded weights nothing moves; from the float32 values
  // the weights near a rounding boundary cross it, as they do for autocast's float32 parameters.
  at::Generator gen = at::detail::createCPUGenerator(7);
  at::Tensor w32 = at::randn({4096}, gen, at::kFloat) * 0.02;
  at::Tensor g = at::randn({4096}, gen, at::kFloat);
  at::Tensor seeded = leaf(w32.to(at::kBFloat16)), rounded = leaf(w32.to(at::kBFloat16));
  AdamW a({seeded}), b({rounded});
  a.start_master_from(seeded, w32.clone());
  for (auto* p : {&seeded, &rounded}) set_grad(*p, g);
  a.step(1e-5);
  b.step(1e-5);
  at::Tensor gd = g.to(at::kDouble);
  at::Tensor expect = (w32.to(at::kDouble) - 1e-5 * gd / (gd.abs() + 1e-8)).to(at::kFloat);
  EXPECT_LT((a.state(0).master - expect).abs().max().item<float>(), 1e-8);  // float32 rounding; the step is 1e-5
  EXPECT_TRUE(at::equal(seeded.detach(), a.state(0).master.to(at::kBFloat16)));
  // From |w| >= 2^-7 up, half a bf16 ulp (>= 2^-15 = 3.1e-5) exceeds the step: rounded away there.
  at::Tensor big = w32.abs().ge(1.0 / 128);
  at::Tensor start = w32.to(at::kBFloat16);
  EXPECT_TRUE(at::equal(rounded.detach().masked_select(big), start.masked_select(big)));
  const int64_t moved = seeded.detach().ne(start).logical_and(big).sum().item<int64_t>();
  EXPECT_GT(moved, 100);  // about a tenth of the ~2800 weights there
  EXPECT_LT(moved, 1000);

  at::Tensor f = leaf(at::zeros({2}));
  AdamW c({f});
  EXPECT_THROW(c.start_master_from(f, at::zeros({2})), Error);          // float32 needs no master
  EXPECT_THROW(a.start_master_from(seeded, w32), Error);                // already stepped
  EXPECT_THROW(c.start_master_from(leaf(at::zeros({2}, at::kBFloat16)), at::zeros({2})), Error);  // not its parameter
  at::Tensor h = leaf(at::zeros({3}, at::kBFloat16));
  AdamW d({h});
  EXPECT_THROW(d.start_master_from(h, at::zeros({4})), Error);          // shape
}

TEST(AdamW, ParametersWithoutGradientAreSkipped) {
  at::Tensor a = leaf(at::ones({2})), b = leaf(at::ones({2}));
  AdamW opt({a, b}, {.weight_decay = 0.5});
  set_grad(a, at::ones({2}));
  opt.step(0.1);
  EXPECT_EQ(opt.state(0).step, 1);
  EXPECT_EQ(opt.state(1).step, 0);
  EXPECT_FALSE(opt.state(1).exp_avg.defined());
  EXPECT_EQ(b[0].item<float>(), 1.0f);  // not even decayed
  opt.zero_grad();
  EXPECT_FALSE(a.grad().defined());
  set_grad(b, at::ones({2}));
  opt.step(0.1);
  EXPECT_EQ(opt.state(0).step, 1);
  EXPECT_EQ(opt.state(1).step, 1);
  EXPECT_EQ(opt.steps(), 2);
}

// A run interrupted after 3 steps and resumed from the saved state ends bit-identical to one that ran
// through, for float32 and for bfloat16 (master) parameters.
TEST(AdamW, ResumeIsBitIdentical) {
  for (at::ScalarType dtype : {at::kFloat, at::kBFloat16}) {
    test::TempDir tmp;
    at::manual_seed(3);
    std::vector<at::Tensor> init = {at::randn({5, 4}).to(dtype), at::randn({4}).to(dtype)};
    std::vector<NamedParam> named = {{"layer.weight", leaf(init[0])}, {"layer.bias", leaf(init[1])}};
    auto make_opt = [](const std::vector<NamedParam>& n) {
      return AdamW(weight_decay_groups(n, 0.01), {.beta2 = 0.95});
    };
    auto train = [](AdamW& opt, const std::vector<NamedParam>& n, int from, int to) {
      for (int t = from; t < to; ++t) {
        for (int i = 0; i < 2; ++i) set_grad(n[i].param, grad_for(n[i].param, i, t));
        opt.step(1e-3 * (t + 1));
        opt.zero_grad();
      }
    };
    AdamW straight = make_opt(named);
    train(straight, named, 0, 3);
    straight.save(tmp / "optimizer.safetensors");
    std::vector<NamedParam> resumed = {{"layer.weight", leaf(named[0].param)}, {"layer.bias", leaf(named[1].param)}};
    train(straight, named, 3, 5);

    AdamW again = make_opt(resumed);
    again.load(tmp / "optimizer.safetensors");
    EXPECT_EQ(again.steps(), 3);
    train(again, resumed, 3, 5);
    for (int i = 0; i < 2; ++i) {
      EXPECT_TRUE(at::equal(named[i].param, resumed[i].param)) << c10::toString(dtype) << " parameter " << i;
      EXPECT_TRUE(at::equal(straight.state(i).exp_avg_sq, again.state(i).exp_avg_sq));
      if (dtype == at::kBFloat16) {
        EXPECT_TRUE(at::equal(straight.state(i).master, again.state(i).master));
      }
    }
  }
}

TEST(AdamW, StateFileLayout) {
  test::TempDir tmp;
  at::Tensor a = leaf(at::ones({3}, at::kBFloat16)), b = leaf(at::ones({2}));
  AdamW opt({a, b});
  set_grad(a, at::ones({3}));
  opt.step(1e-3);
  opt.save(tmp / "s.safetensors");
  StateFile f = read_state_file(tmp / "s.safetensors");
  EXPECT_EQ(f.tensors.size(), 3u);  // b never stepped: no state
  EXPECT_TRUE(f.tensors.count("0.exp_avg") && f.tensors.count("0.exp_avg_sq") && f.tensors.count("0.master"));
  EXPECT_EQ(f.tensors.at("0.master").scalar_type(), at::kFloat);
  EXPECT_EQ(f.metadata.at("step"), "1");
  EXPECT_EQ(f.metadata.at("param_steps"), "1,0");
  EXPECT_EQ(f.metadata.at("num_params"), "2");
  EXPECT_EQ(f.metadata.at("format"), "pt");
}

TEST(AdamW, LoadRejectsAStateOfAnotherModel) {
  test::TempDir tmp;
  at::Tensor a = leaf(at::ones({3}));
  AdamW opt({a});
  set_grad(a, at::ones({3}));
  opt.step(1e-3);
  opt.save(tmp / "s.safetensors");

  at::Tensor x = leaf(at::ones({3})), y = leaf(at::ones({2}));
  AdamW two({x, y});
  EXPECT_ERROR_WITH(two.load(tmp / "s.safetensors"), "s.safetensors", "num_params", "1 parameters");
  at::Tensor z = leaf(at::ones({4}));
  AdamW other_shape({z});
  EXPECT_ERROR_WITH(other_shape.load(tmp / "s.safetensors"), "s.safetensors", "0.exp_avg", "[3]", "[4]");
  EXPECT_EQ(other_shape.state(0).step, 0);  // a failed load changes nothing
  write_state_file(tmp / "rng.safetensors", {{"x", at::zeros({1})}});
  EXPECT_ERROR_WITH(other_shape.load(tmp / "rng.safetensors"), "not an AdamW state file");
}

TEST(AdamW, RejectsBadParameters) {
  EXPECT_ERROR_WITH(AdamW({at::ones({2})}), "parameter 0", "does not require grad");
  at::Tensor a = leaf(at::ones({2}));
  EXPECT_ERROR_WITH(AdamW({a, a}), "parameter 1", "appears twice");
  EXPECT_ERROR_WITH(AdamW({a}, {.beta1 = 1.0}), "adam_beta1");
  EXPECT_ERROR_WITH(AdamW({{.params = {a}, .weight_decay = -1}}), "weight_decay");
}

TEST(AdamW, WeightDecayGroupsFollowTransformers) {
  EXPECT_TRUE(decays("model.layers.0.self_attn.q_proj.weight"));
  EXPECT_TRUE(decays("lm_head.weight"));
  EXPECT_TRUE(decays("base_model.model.layers.0.self_attn.q_proj.lora_A.weight"));
  EXPECT_FALSE(decays("model.layers.0.self_attn.q_proj.bias"));
  EXPECT_FALSE(decays("model.norm.weight"));
  EXPECT_FALSE(decays("model.layers.0.input_layernorm.weight"));
  EXPECT_FALSE(decays("model.layers.0.self_attn.q_norm.weight"));
  EXPECT_FALSE(decays("bert.embeddings.LayerNorm.weight"));

  at::Tensor w = leaf(at::ones({2})), b = leaf(at::ones({2})), n = leaf(at::ones({2}));
  auto groups = weight_decay_groups({{"q.weight", w}, {"q.bias", b}, {"norm.weight", n}}, 0.1);
  ASSERT_EQ(groups.size(), 2u);
  EXPECT_EQ(groups[0].weight_decay, 0.1);
  ASSERT_EQ(groups[0].params.size(), 1u);
  EXPECT_TRUE(groups[0].params[0].is_same(w));
  EXPECT_EQ(groups[1].weight_decay, 0.0);
  EXPECT_EQ(groups[1].params.size(), 2u);
}

}  // namespace prefer::train
