#include "train/trainer.h"

#include <ATen/ATen.h>

#include <cmath>

#include "model/loader.h"
#include "model/lora.h"
#include "pairs_fixture.h"
#include "test_util.h"
#include "train/dpo_recipe.h"

namespace prefer::train {

namespace {

data::TokenizedDataset pairs(int copies) {
  data::TokenizedDataset d;
  for (int k = 0; k < copies; ++k) {
    auto add = [&](std::vector<int32_t> p, std::vector<int32_t> c, std::vector<int32_t> r) { test::add_pair(d, p, c, r); };
    add({1, 290, 302}, {281, 273, 286, 121, 4}, {51, 60, 70, 80, 4});
    add({1, 77, 110, 265, 266}, {37, 4}, {38, 39, 40, 41, 42, 4});
    add({1, 5, 6}, {7, 8, 4}, {9, 10, 11, 4});
    add({1, 200, 201}, {202, 4}, {203, 204, 205, 4});
  }
  return d;
}

struct DpoRun {
  model::CausalLM policy = model::load_model(test::fixture("models/llama-tiny"));
  model::LoraConfig lora{.r = 4, .lora_alpha = 8, .target_modules = {"q_proj", "v_proj", "o_proj"}};
  std::optional<model::CausalLM> reference;
  std::unique_ptr<DpoRecipe> recipe;
  explicit DpoRun(bool use_lora, bool float64 = false) {
    at::manual_seed(0);
    if (float64) policy.to(at::kDouble);
    if (use_lora) {
      policy.set_requires_grad(false);
      model::add_lora(policy, lora, 7);
    } else {
      policy.set_requires_grad(true);
      reference.emplace(model::load_model(test::fixture("models/llama-tiny")));
      reference->set_requires_grad(false);
    }
    recipe = std::make_unique<DpoRecipe>(policy, reference ? &*reference : nullptr, DpoRecipeOptions{});
  }
  TrainingTask task(bool use_lora) {
    TrainingTask t;
    t.step = [this](const data::TokenizedDataset& d, const std::vector<size_t>& ex, bool train) {
      DpoStepOutput s = recipe->step(d, ex, train);
      MicroStep m{.loss_sum = s.loss * static_cast<double>(s.pairs), .weight = static_cast<double>(s.pairs), .examples = s.pairs,
                  .tokens = s.tokens, .lines = s.lines};
      add_means(m.metrics, s.metrics, static_cast<double>(s.pairs));
      return m;
    };
    t.trainable = [this, use_lora] {
      std::vector<NamedParam> p;
      if (use_lora)
        for (auto& [n, x] : model::lora_parameters(policy, lora)) p.push_back({n, x});
      else
        for (auto& [n, x] : policy.named_parameters()) p.push_back({n, x});
      return p;
    };
    t.save_checkpoint = [](const std::filesystem::path&) {};
    t.load_checkpoint = [](const std::filesystem::path&) {};
    t.save_final = [](const std::filesystem::path& dir) { test::write_bytes(dir / "done", "1"); };
    return t;
  }
};

TrainerArgs args(const test::TempDir& tmp, int64_t steps, int64_t bs, int64_t ga, double lr) {
  TrainerArgs a;
  a.output_dir = tmp.path();
  a.max_steps = steps;
  a.per_device_train_batch_size = bs;
  a.gradient_accumulation_steps = ga;
  a.learning_rate = lr;
  a.lr_scheduler_type = "constant";
  a.logging_steps = 1;
  a.save_steps = 1000;
  a.show_progress = false;
  return a;
}

}  // namespace

TEST(Trainer, AccumulationGivesTheSameUpdateAsTheLargerBatch) {
  // One step over the same 4 pairs: one batch of 4, or 4 micro-batches of 1 accumulated. Dropout is off
  // (lora_dropout 0), so both compute the same mean gradient and AdamW takes the same step. In float64,
  // because Adam's first step is lr * g / (|g| + eps): float32 noise in tiny gradients would show.
  data::TokenizedDataset d = pairs(1);
  test::TempDir t1, t2;
  DpoRun a(true, true), b(true, true);
  Trainer(args(t1, 1, 4, 1, 1e-2), a.task(true), d).train();
  Trainer(args(t2, 1, 1, 4, 1e-2), b.task(true), d).train();
  auto pa = model::lora_parameters(a.policy, a.lora), pb = model::lora_parameters(b.policy, b.lora);
  ASSERT_EQ(pa.size(), pb.size());
  double max_diff = 0, moved = 0;
  for (size_t i = 0; i < pa.size(); ++i) {
    max_diff = std::max(max_diff, (pa[i].second - pb[i].second).abs().max().item<double>());
    moved = std::max(moved, pa[i].second.abs().max().item<double>());
  }
  EXPECT_GT(moved, 0.0);
  EXPECT_LT(max_diff, 1e-10);
}

TEST(Trainer, FirstStepLossIsLn2AndMarginsGrowOver20Steps) {
  data::TokenizedDataset d = pairs(4);
  test::TempDir tmp;
  DpoRun r(true);
  Trainer trainer(args(tmp, 20, 4, 1, 2e-2), r.task(true), d);
  TrainResult res = trainer.train();
  ASSERT_EQ(res.log.size(), 20u);
  // Step 1: the LoRA B matrices start at 0, so policy = reference and the loss is ln 2 exactly.
  EXPECT_NEAR(res.log[0]["loss"].get<double>(), std::log(2.0), 1e-9);
  EXPECT_NEAR(res.log[0]["rewards/margins"].get<double>(), 0.0, 1e-9);
  double first_margin = res.log[1]["rewards/margins"].get<double>(), last_margin = res.log.back()["rewards/margins"].get<double>();
  EXPECT_GT(last_margin, first_margin + 0.1);
  EXPECT_GT(res.log.back()["rewards/accuracies"].get<double>(), res.log[1]["rewards/accuracies"].get<double>() - 1e-12);
  EXPECT_LT(res.log.back()["loss"].get<double>(), std::log(2.0));
  EXPECT_TRUE(std::filesystem::exists(tmp / "final" / "done"));
  EXPECT_TRUE(std::filesystem::exists(tmp / "metrics.jsonl"));
}

TEST(Trainer, FullRunChangesEveryTrainableWeightAndNotTheReference) {
  data::TokenizedDataset d = pairs(1);
  test::TempDir tmp;
  DpoRun r(false);
  std::vector<at::Tensor> before;
  for (auto& [n, t] : r.policy.named_parameters()) before.push_back(t.detach().clone());
  std::vector<at::Tensor> ref_before;
  for (auto& [n, t] : r.reference->named_parameters()) ref_before.push_back(t.detach().clone());
  Trainer(args(tmp, 2, 4, 1, 1e-3), r.task(false), d).train();
  auto after = r.policy.named_parameters();
  size_t changed = 0;
  for (size_t i = 0; i < after.size(); ++i) changed += !at::equal(after[i].second, before[i]);
  // Every weight gets a gradient in DPO (AdamW moves each by about lr); the embedding rows of unused
  // tokens are the exception, but their matrix as a whole changes.
  EXPECT_EQ(changed, after.size());
  auto ref_after = r.reference->named_parameters();
  for (size_t i = 0; i < ref_after.size(); ++i) EXPECT_TRUE(at::equal(ref_after[i].second, ref_before[i])) << ref_after[i].first;
}

TEST(Trainer, LoraRunFreezesTheBase) {
  data::TokenizedDataset d = pairs(1);
  test::TempDir tmp;
  DpoRun r(true);
  std::vector<at::Tensor> base;
  for (auto& [n, t] : r.policy.named_parameters()) base.push_back(t.detach().clone());
  Trainer(args(tmp, 3, 4, 1, 1e-2), r.task(true), d).train();
  auto after = r.policy.named_parameters();
  for (size_t i = 0; i < after.size(); ++i) EXPECT_TRUE(at::equal(after[i].second, base[i])) << after[i].first;
  size_t moved = 0;
  for (auto& [n, t] : model::lora_parameters(r.policy, r.lora)) moved += n.find("lora_B") != std::string::npos && t.abs().sum().item<double>() > 0;
  EXPECT_GT(moved, 0u);
}

TEST(Trainer, SettingsAreValidatedUpFront) {
  test::TempDir tmp;
  data::TokenizedDataset d = pairs(1);
  DpoRun r(true);
  TrainerArgs a = args(tmp, 1, 0, 1, 1e-3);
  EXPECT_ERROR_WITH(Trainer(a, r.task(true), d), "'per_device_train_batch_size': must be >= 1");
  a = args(tmp, 1, 1, 1, -1);
  EXPECT_ERROR_WITH(Trainer(a, r.task(true), d), "'learning_rate'");
  a = args(tmp, 1, 1, 1, 1e-3);
  a.lr_scheduler_type = "cosinus";
  EXPECT_ERROR_WITH(Trainer(a, r.task(true), d), "cosine");
  a = args(tmp, 1, 1, 1, 0.0);  // learning_rate 0 is valid: a pass that measures
  EXPECT_NO_THROW(Trainer(a, r.task(true), d).train());
}

// A task whose update is known in closed form: one float64 parameter θ and a token-mean squared error,
// L = Σ_t (θ − y_t)² / N over the N completion tokens of the whole optimizer step (y_t = the token id).
// At θ = 0 the step's gradient is −2 Σ y_t / N, whatever the micro-batching, so batch 4 x accumulation 1
// and batch 1 x accumulation 4 log the same grad_norm and loss. Weighting micro-batches by their
// examples instead (each example's own token mean) would give another number: the examples have 1, 2,
// 3 and 6 tokens.
struct TokenMeanTask {
  at::Tensor theta = at::zeros({}, at::kDouble).set_requires_grad(true);
  TrainingTask task() {
    TrainingTask t;
    t.weight = [](const data::TokenizedDataset& d, const std::vector<size_t>& ex) {
      double n = 0;
      for (size_t e : ex) n += static_cast<double>(d.chosen(e).size());
      return n;
    };
    t.step = [this](const data::TokenizedDataset& d, const std::vector<size_t>& ex, bool) {
      MicroStep m;
      m.loss_sum = at::zeros({}, at::kDouble);
      for (size_t e : ex)
        for (int32_t y : d.chosen(e)) {
          m.loss_sum = m.loss_sum + (theta - static_cast<double>(y)).pow(2);
          m.weight += 1;
        }
      m.examples = static_cast<int64_t>(ex.size());
      return m;
    };
    t.trainable = [this] { return std::vector<NamedParam>{{"theta", theta}}; };
    t.save_checkpoint = [](const std::filesystem::path&) {};
    t.load_checkpoint = [](const std::filesystem::path&) {};
    t.save_final = [](const std::filesystem::path& dir) { test::write_bytes(dir / "done", "1"); };
    return t;
  }
};

TEST(Trainer, AccumulationTakesTheTokenMeanOfTheWholeStep) {
  data::TokenizedDataset single;
  for (std::vector<int32_t> c : {std::vector<int32_t>{3}, {1, 5}, {2, 2, 2}, {4, 4, 4, 4, 4, 10}}) {
    data::TokenizedExample ex;
    ex.prompt_ids = {1};
    ex.chosen.completion_ids = c;
    single.add(ex);
  }
  const double sum_y = 3 + 1 + 5 + 2 + 2 + 2 + 4 * 5 + 10, n = 12;
  std::vector<double> norms, losses;
  for (auto [bs, ga] : {std::pair<int64_t, int64_t>{4, 1}, {1, 4}, {2, 2}}) {
    test::TempDir tmp;
    TokenMeanTask t;
    TrainerArgs a = args(tmp, 1, bs, ga, 1e-3);
    a.max_grad_norm = 0;  // the logged grad_norm is then the raw gradient's
    a.group_by_length = false;
    TrainResult r = Trainer(a, t.task(), single).train();
    norms.push_back(r.log[0]["grad_norm"].get<double>());
    losses.push_back(r.log[0]["loss"].get<double>());
  }
  double sum_y2 = 9 + 1 + 25 + 4 * 3 + 16 * 5 + 100;
  for (size_t i = 0; i < norms.size(); ++i) {
    EXPECT_NEAR(norms[i], 2 * sum_y / n, 1e-12) << i;
    EXPECT_NEAR(losses[i], sum_y2 / n, 1e-12) << i;
  }
}

}  // namespace prefer::train
