// prefer grpo and prefer rloo end to end on the tiny fixture model: a reward command paying for one token
// class raises the mean reward within 20 steps; beta 0 loads and runs no reference; several reward
// functions are summed with their weights; an RLOO run resumes after SIGKILL to the same curve; batch
// arithmetic errors name their option.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "cli_run.h"
#include "rl_files.h"
#include "run_files.h"
#include "test_util.h"
#include "util/json.h"

namespace prefer {
namespace {
namespace fs = std::filesystem;

const std::string kGrpoModel = test::fixture("models/llama-tiny").string();

std::string base_args(const std::string& command, const test::TempDir& tmp) {
  return command + " --model " + kGrpoModel + " --data " + (tmp.path() / "prompts.jsonl").string() + " --reward_command 'node " +
         (tmp.path() / "reward.mjs").string() + "' --num_generations 4 --max_completion_length 8 --logging_steps 1";
}

TEST(GrpoE2E, ARewardCommandRaisesTheMeanRewardAndBetaZeroHoldsNoReference) {
  test::TempDir tmp;
  test::write_reward_script(tmp.path() / "reward.mjs");
  test::write_prompts(tmp.path() / "prompts.jsonl", 32);
  auto r = test::run_prefer(base_args("grpo", tmp) + " --per_device_train_batch_size 8 --gradient_accumulation_steps 2 --max_steps 20 "
                                                     "--learning_rate 5e-3 --output_dir " + (tmp.path() / "run").string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("reference 0 B (beta 0: no reference model)"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("roles: full fine-tuning: policy\n"), std::string::npos) << r.output;
  auto rows = test::metrics_rows(tmp.path() / "run");
  ASSERT_EQ(rows.size(), 20u);
  for (const char* k : {"reward", "reward_std", "frac_reward_zero_std", "rewards/command/mean", "entropy", "loss", "grad_norm",
                        "learning_rate", "num_tokens", "completions/mean_length", "completions/clipped_ratio", "clip_ratio/region_mean"})
    EXPECT_TRUE(rows[0].contains(k)) << k;
  EXPECT_FALSE(rows[0].contains("kl")) << "beta 0 computes no KL";
  const auto reward = test::series(rows, "reward");
  EXPECT_GT(test::mean(reward, 15, 20) - test::mean(reward, 0, 5), 0.05) << Json(reward).dump();
  EXPECT_EQ(rows.back()["step"], 20);
  EXPECT_TRUE(fs::exists(tmp.path() / "run" / "final" / "config.json"));
  EXPECT_EQ(read_jsonl_file(tmp.path() / "run" / "completions.jsonl").size(), 20u * 4);

  // beta > 0: the reference is the policy's base with adapters off, and kl is logged.
  auto b = test::run_prefer(base_args("grpo", tmp) + " --per_device_train_batch_size 8 --max_steps 2 --beta 0.1 --use_peft "
                                                     "--learning_rate 1e-3 --output_dir " + (tmp.path() / "beta").string());
  ASSERT_EQ(b.exit_code, 0) << b.output;
  EXPECT_NE(b.output.find("reference = adapters off"), std::string::npos) << b.output;
  EXPECT_TRUE(test::metrics_rows(tmp.path() / "beta")[0].contains("kl"));
}

TEST(GrpoE2E, SeveralRewardFunctionsAreSummedWithTheirWeights) {
  test::TempDir tmp;
  test::write_reward_script(tmp.path() / "reward.mjs");
  test::write_prompts(tmp.path() / "prompts.jsonl", 8);
  auto r = test::run_prefer(base_args("grpo", tmp) + " --reward_model " + test::fixture("models/llama-tiny-rm").string() +
                            " --reward_weights 0.5,2 --per_device_train_batch_size 8 --max_steps 2 --learning_rate 1e-4 --output_dir " +
                            (tmp.path() / "run").string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  for (const auto& row : test::metrics_rows(tmp.path() / "run"))
    EXPECT_NEAR(row["reward"].get<double>(),
                0.5 * row["rewards/llama-tiny-rm/mean"].get<double>() + 2 * row["rewards/command/mean"].get<double>(), 1e-5);
  auto bad = test::run_prefer(base_args("grpo", tmp) + " --reward_weights 1,2,3 --output_dir " + (tmp.path() / "bad").string());
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.output.find("'reward_weights'"), std::string::npos) << bad.output;
}

TEST(GrpoE2E, RlooResumesAfterAKillToTheSameCurve) {
  test::TempDir tmp;
  test::write_reward_script(tmp.path() / "reward.mjs");
  test::write_prompts(tmp.path() / "prompts.jsonl", 16);
  const std::string args = base_args("rloo", tmp) + " --per_device_train_batch_size 4 --gradient_accumulation_steps 2 --max_steps 6 "
                                                    "--save_steps 2 --learning_rate 1e-3 --use_peft --lora_target_modules all-linear";
  auto whole = test::run_prefer(args + " --output_dir " + (tmp.path() / "whole").string());
  ASSERT_EQ(whole.exit_code, 0) << whole.output;
  auto rows = test::metrics_rows(tmp.path() / "whole");
  ASSERT_EQ(rows.size(), 6u);
  EXPECT_TRUE(rows[0].contains("kl")) << "RLOO's beta is 0.05 by default";
  const fs::path run = tmp.path() / "killed";
  ASSERT_TRUE(test::kill_when_written(args + " --output_dir " + run.string(), run / "checkpoint-2" / "trainer_state.json"));
  ASSERT_FALSE(fs::exists(run / "final"));
  auto resumed = test::run_prefer(args + " --output_dir " + run.string() + " --resume_from_checkpoint latest");
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_EQ(test::metrics_rows(run), rows);
}

TEST(GrpoE2E, BatchArithmeticErrorsNameTheirOption) {
  test::TempDir tmp;
  test::write_reward_script(tmp.path() / "reward.mjs");
  test::write_prompts(tmp.path() / "prompts.jsonl", 8);
  auto expect_error = [&](const std::string& extra, const std::string& field) {
    auto r = test::run_prefer(base_args("grpo", tmp) + " " + extra + " --output_dir " + (tmp.path() / "x").string());
    EXPECT_NE(r.exit_code, 0) << r.output;
    EXPECT_NE(r.output.find("'" + field + "'"), std::string::npos) << r.output;
    EXPECT_EQ(r.output.find("internal error"), std::string::npos) << r.output;
    EXPECT_FALSE(fs::exists(tmp.path() / "x" / "final"));
  };
  expect_error("--per_device_train_batch_size 6", "num_generations");  // 6 completions in groups of 4
  expect_error("--num_generations 1 --per_device_train_batch_size 4", "num_generations");
  expect_error("--gradient_accumulation_steps 2 --steps_per_generation 3 --per_device_train_batch_size 4", "steps_per_generation");
  expect_error("--loss_type ppo --per_device_train_batch_size 4", "loss_type");
  expect_error("--per_device_train_batch_size 4 --reward_command 'exit 1'", "reward program 'exit 1'");
}

}  // namespace
}  // namespace prefer
