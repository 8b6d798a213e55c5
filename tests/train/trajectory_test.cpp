// Ten optimizer steps pinned to an independent implementation: the eager PyTorch steps of
// bench/baseline (trl_dpo_step.py, trl_sft_step.py: HF-style Llama, TRL's losses, clip_grad_norm_,
// torch.optim.AdamW), run in float64 on llama-tiny and frozen in tests/fixtures/trajectories. prefer's
// trainer, recipes and optimizer, also in float64, must follow the same loss / grad-norm / margin curve:
// this pins the composition (accounting, clipping, AdamW, schedule), which per-loss goldens cannot.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "model/loader.h"
#include "test_util.h"
#include "train/dpo_recipe.h"
#include "train/sft_recipe.h"
#include "train/trainer.h"

namespace prefer::train {
namespace {

std::vector<int32_t> ids(const Json& j) { return j.get<std::vector<int32_t>>(); }

model::CausalLM float64_model(bool trainable) {
  model::CausalLM m = model::load_model(test::fixture("models/llama-tiny"));
  m.to(at::kDouble);
  m.set_requires_grad(trainable);
  return m;
}

TrainerArgs ten_steps(const test::TempDir& tmp, int64_t batch) {
  TrainerArgs a;
  a.output_dir = tmp.path();
  a.max_steps = 10;
  a.per_device_train_batch_size = batch;
  a.learning_rate = 1e-3;
  a.lr_scheduler_type = "constant";
  a.max_grad_norm = 1.0;
  a.logging_steps = 1;
  a.save_steps = 1000;
  a.group_by_length = false;
  a.show_progress = false;
  return a;
}

TrainingTask full_task(model::CausalLM& m) {
  TrainingTask t;
  t.trainable = [&m] {
    std::vector<NamedParam> p;
    for (auto& [n, x] : m.named_parameters()) p.push_back({n, x});
    return p;
  };
  t.save_checkpoint = t.load_checkpoint = t.save_final = [](const std::filesystem::path&) {};
  return t;
}

TEST(Trajectory, DpoFullTenStepsFollowTheEagerBaseline) {
  const Json fx = read_json_file(test::fixture("trajectories/dpo_full_llama_tiny.json"));
  data::TokenizedDataset d;
  for (const Json& p : fx["pairs"]) {
    data::TokenizedExample ex;
    ex.paired = true;
    ex.prompt_ids = ids(p["prompt_ids"]);
    ex.chosen.completion_ids = ids(p["chosen_ids"]);
    ex.rejected.completion_ids = ids(p["rejected_ids"]);
    d.add(ex);
  }
  for (auto layout : {data::BatchLayout::Concatenated, data::BatchLayout::PrefixShared}) {
    model::CausalLM policy = float64_model(true), reference = float64_model(false);
    DpoRecipeOptions ro;
    ro.dpo.beta = 0.1;
    ro.batch.layout = layout;
    DpoRecipe recipe(policy, &reference, ro);
    TrainingTask task = full_task(policy);
    task.step = [&recipe](const data::TokenizedDataset& data, const std::vector<size_t>& ex, bool train) {
      DpoStepOutput s = recipe.step(data, ex, train);
      MicroStep m{.loss_sum = s.loss * static_cast<double>(s.pairs), .weight = static_cast<double>(s.pairs), .examples = s.pairs};
      add_means(m.metrics, s.metrics, static_cast<double>(s.pairs));
      return m;
    };
    test::TempDir tmp;
    TrainResult r = Trainer(ten_steps(tmp, 4), task, d).train();
    ASSERT_EQ(r.log.size(), 10u);
    for (size_t i = 0; i < 10; ++i) {
      const Json& want = fx["steps"][i];
      EXPECT_NEAR(r.log[i]["loss"].get<double>(), want["loss"].get<double>(), 1e-10) << "step " << i + 1;
      EXPECT_NEAR(r.log[i]["grad_norm"].get<double>(), want["grad_norm"].get<double>(), 1e-9) << "step " << i + 1;
      EXPECT_NEAR(r.log[i]["rewards/margins"].get<double>(), want["margins"].get<double>(), 1e-10) << "step " << i + 1;
      EXPECT_NEAR(r.log[i]["rewards/chosen"].get<double>(), want["rewards_chosen"].get<double>(), 1e-10) << "step " << i + 1;
    }
  }
}

TEST(Trajectory, SftFullTenStepsFollowTheEagerBaseline) {
  const Json fx = read_json_file(test::fixture("trajectories/sft_full_llama_tiny.json"));
  data::TokenizedDataset d;
  for (const Json& e : fx["examples"]) {
    data::TokenizedExample ex;
    ex.prompt_ids = ids(e["prompt_ids"]);
    ex.chosen.completion_ids = ids(e["completion_ids"]);
    d.add(ex);
  }
  for (bool packing : {false, true}) {
    model::CausalLM m = float64_model(true);
    SftRecipe recipe(m, {.completion_only_loss = true, .packing = packing, .max_length = 32});
    TrainingTask task = full_task(m);
    recipe.install(task);
    test::TempDir tmp;
    // Packed: the four examples fit two rows of 32, one micro-batch of both rows.
    TrainResult r = Trainer(ten_steps(tmp, packing ? 2 : 4), task, d).train();
    ASSERT_EQ(r.log.size(), 10u);
    for (size_t i = 0; i < 10; ++i) {
      const Json& want = fx["steps"][i];
      EXPECT_NEAR(r.log[i]["loss"].get<double>(), want["loss"].get<double>(), 1e-10) << "step " << i + 1 << " packing " << packing;
      EXPECT_NEAR(r.log[i]["grad_norm"].get<double>(), want["grad_norm"].get<double>(), 1e-9) << "step " << i + 1;
      EXPECT_NEAR(r.log[i]["mean_token_accuracy"].get<double>(), want["mean_token_accuracy"].get<double>(), 1e-6) << "step " << i + 1;
    }
  }
}

}  // namespace
}  // namespace prefer::train
