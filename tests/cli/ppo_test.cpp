// prefer ppo end to end on the tiny fixture model: a reward command that pays for one half of the
// vocabulary raises the mean score within 30 updates while the KL stays bounded, and a large kl_coef holds
// the policy in place; a SIGKILLed run resumes to the same curve; the shared base computes what four
// separate copies compute; a reward model with another template scores what prefer score gives; bad
// inputs are clear errors that leave no final/.
#include <gtest/gtest.h>

#include <algorithm>
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

const std::string kPpoModel = test::fixture("models/llama-tiny").string();

TEST(PpoE2E, ARewardCommandRaisesTheScoreWhileKlStaysBoundedAndALargeKlCoefHoldsThePolicy) {
  test::TempDir tmp;
  test::write_reward_script(tmp.path() / "reward.mjs");
  test::write_prompts(tmp.path() / "prompts.jsonl", 32);
  const std::string base = "ppo --model " + kPpoModel + " --data " + (tmp.path() / "prompts.jsonl").string() + " --reward_command 'node " +
                           (tmp.path() / "reward.mjs").string() +
                           "' --per_device_train_batch_size 8 --gradient_accumulation_steps 2 --response_length 8 --max_steps 30 "
                           "--learning_rate 3e-3 --temperature 1.0";
  auto free = test::run_prefer(base + " --output_dir " + (tmp.path() / "free").string());
  ASSERT_EQ(free.exit_code, 0) << free.output;
  EXPECT_NE(free.output.find("roles: full fine-tuning"), std::string::npos) << free.output;
  auto rows = test::metrics_rows(tmp.path() / "free");
  ASSERT_EQ(rows.size(), 30u);
  for (const char* k : {"objective/kl", "objective/entropy", "objective/non_score_reward", "objective/rlhf_reward", "objective/scores",
                        "policy/approxkl_avg", "policy/clipfrac_avg", "loss/policy_avg", "loss/value_avg", "val/clipfrac_avg",
                        "policy/entropy_avg", "val/ratio", "val/ratio_var", "val/num_eos_tokens", "lr", "episode"})
    EXPECT_TRUE(rows[0].contains(k)) << k;
  const auto score = test::series(rows, "objective/scores"), kl = test::series(rows, "objective/kl");
  const double rise = test::mean(score, 25, 30) - test::mean(score, 0, 5);
  EXPECT_GT(rise, 0.08) << "scores " << Json(score).dump();
  EXPECT_LT(*std::max_element(kl.begin(), kl.end()), 10.0) << Json(kl).dump();
  EXPECT_EQ(rows.back()["episode"].get<double>(), 30.0 * 16);
  EXPECT_TRUE(fs::exists(tmp.path() / "free" / "final" / "config.json"));
  EXPECT_TRUE(fs::exists(tmp.path() / "free" / "final" / "README.md"));
  const auto samples = read_jsonl_file(tmp.path() / "free" / "completions.jsonl");
  EXPECT_EQ(samples.size(), 30u * 4);
  EXPECT_TRUE(samples[0].value.contains("completion") && samples[0].value.contains("score") && samples[0].value.contains("kl"));

  auto held = test::run_prefer(base + " --kl_coef 5 --output_dir " + (tmp.path() / "held").string());
  ASSERT_EQ(held.exit_code, 0) << held.output;
  auto hrows = test::metrics_rows(tmp.path() / "held");
  const auto hscore = test::series(hrows, "objective/scores"), hkl = test::series(hrows, "objective/kl");
  EXPECT_LT(test::mean(hkl, 0, 30), 0.5 * test::mean(kl, 0, 30)) << "held " << Json(hkl).dump() << " free " << Json(kl).dump();
  EXPECT_LT(test::mean(hscore, 25, 30) - test::mean(hscore, 0, 5), rise);
}

TEST(PpoE2E, AKilledRunResumesToTheSameCurve) {
  test::TempDir tmp;
  test::write_prompts(tmp.path() / "prompts.jsonl", 20);
  const std::string args = "ppo --model " + kPpoModel + " --data " + (tmp.path() / "prompts.jsonl").string() + " --reward_model " +
                           test::fixture("models/llama-tiny-rm").string() +
                           " --use_peft --lora_target_modules all-linear --per_device_train_batch_size 4 --response_length 6 --max_steps 8 "
                           "--save_steps 3 --learning_rate 1e-3 --num_ppo_epochs 2 --second_reward_model " +
                           test::fixture("models/llama-tiny-rm").string();
  auto whole = test::run_prefer(args + " --output_dir " + (tmp.path() / "whole").string());
  ASSERT_EQ(whole.exit_code, 0) << whole.output;
  EXPECT_NE(whole.output.find("one shared base"), std::string::npos) << whole.output;
  EXPECT_NE(whole.output.find("sharing saves"), std::string::npos) << whole.output;
  EXPECT_TRUE(fs::exists(tmp.path() / "whole" / "final" / "adapter_model.safetensors"));
  const fs::path run = tmp.path() / "killed";
  ASSERT_TRUE(test::kill_when_written(args + " --output_dir " + run.string(), run / "checkpoint-3" / "trainer_state.json"));
  ASSERT_FALSE(fs::exists(run / "final"));
  auto resumed = test::run_prefer(args + " --output_dir " + run.string() + " --resume_from_checkpoint latest");
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  auto a = test::metrics_rows(tmp.path() / "whole"), b = test::metrics_rows(run);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i], b[i]) << "row " << i;
  // The second judge is the reward model itself here: its scores of the same responses are the same.
  for (const auto& row : a)
    EXPECT_NEAR(row["objective/second_scores"].get<double>(), row["objective/scores"].get<double>(), 1e-6);
  EXPECT_EQ(read_jsonl_file(tmp.path() / "whole" / "completions.jsonl").size(), read_jsonl_file(run / "completions.jsonl").size());
}

TEST(PpoE2E, OneSharedBaseComputesWhatSeparateCopiesCompute) {
  test::TempDir tmp;
  test::write_prefs(tmp.path() / "prefs.jsonl", 16);
  auto rm = test::run_prefer("reward --model " + kPpoModel + " --data " + (tmp.path() / "prefs.jsonl").string() +
                             " --use_peft --lora_target_modules all-linear --max_steps 3 --per_device_train_batch_size 4 --learning_rate 1e-2 "
                             "--output_dir " + (tmp.path() / "rm").string());
  ASSERT_EQ(rm.exit_code, 0) << rm.output;
  test::write_prompts(tmp.path() / "prompts.jsonl", 8, /*chat=*/true);
  const std::string args = "ppo --model " + kPpoModel + " --data " + (tmp.path() / "prompts.jsonl").string() + " --reward_model " +
                           (tmp.path() / "rm" / "final").string() +
                           " --use_peft --lora_dropout 0 --per_device_train_batch_size 4 --response_length 6 --max_steps 3 --learning_rate 1e-2";
  auto shared = test::run_prefer(args + " --output_dir " + (tmp.path() / "shared").string());
  ASSERT_EQ(shared.exit_code, 0) << shared.output;
  EXPECT_NE(shared.output.find("policy, value, reward as LoRA adapters"), std::string::npos) << shared.output;
  auto separate = test::run_prefer(args + " --share_base false --output_dir " + (tmp.path() / "separate").string());
  ASSERT_EQ(separate.exit_code, 0) << separate.output;
  auto a = test::metrics_rows(tmp.path() / "shared"), b = test::metrics_rows(tmp.path() / "separate");
  ASSERT_EQ(a.size(), 3u);
  ASSERT_EQ(b.size(), 3u);
  for (size_t i = 0; i < a.size(); ++i)
    for (auto it = a[i].begin(); it != a[i].end(); ++it)
      EXPECT_NEAR(it.value().get<double>(), b[i].at(it.key()).get<double>(), 1e-5 * (1 + std::abs(it.value().get<double>())))
          << it.key() << " at update " << i + 1;
  EXPECT_NE(a[0]["objective/scores"].get<double>(), 0.0);  // the reward adapter scores, on the shared base
}

TEST(PpoE2E, ARewardModelWithAnotherTemplateScoresWhatPreferScoreGives) {
  test::TempDir tmp;
  const fs::path rm = tmp.path() / "rm";
  fs::create_directories(rm);
  for (const auto& e : fs::directory_iterator(test::fixture("models/llama-tiny-rm"))) fs::copy(e.path(), rm / e.path().filename());
  Json cfg = read_json_file(rm / "tokenizer_config.json");
  cfg["chat_template"] = "{% for message in messages %}{{ message['role'] + ': ' + message['content'] + '\\n' }}{% endfor %}"
                         "{% if add_generation_prompt %}{{ 'assistant: ' }}{% endif %}";
  fs::remove(rm / "tokenizer_config.json");
  test::write_bytes(rm / "tokenizer_config.json", cfg.dump(1));
  test::write_prompts(tmp.path() / "prompts.jsonl", 8, /*chat=*/true);
  auto r = test::run_prefer("ppo --model " + kPpoModel + " --data " + (tmp.path() / "prompts.jsonl").string() + " --reward_model " + rm.string() +
                            " --per_device_train_batch_size 4 --response_length 6 --max_steps 2 --learning_rate 1e-4 --output_dir " +
                            (tmp.path() / "run").string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  // Each logged sample, scored on its own by prefer score (the reward model's template and tokenizer).
  const auto samples = read_jsonl_file(tmp.path() / "run" / "completions.jsonl");
  ASSERT_FALSE(samples.empty());
  std::string rows;
  for (const auto& s : samples)
    rows += Json({{"prompt", Json::array({{{"role", "user"}, {"content", s.value["prompt"]}}})},
                  {"completion", Json::array({{{"role", "assistant"}, {"content", s.value["completion"]}}})}})
                .dump() +
            "\n";
  test::write_bytes(tmp.path() / "samples.jsonl", rows);
  auto sc = test::run_prefer("score --model " + rm.string() + " --data " + (tmp.path() / "samples.jsonl").string() + " --output " +
                             (tmp.path() / "scored.jsonl").string());
  ASSERT_EQ(sc.exit_code, 0) << sc.output;
  const auto scored = read_jsonl_file(tmp.path() / "scored.jsonl");
  ASSERT_EQ(scored.size(), samples.size());
  for (size_t i = 0; i < samples.size(); ++i)
    EXPECT_NEAR(samples[i].value["score"].get<double>(), scored[i].value["score"].get<double>(), 1e-4) << i;
}

TEST(PpoE2E, BadInputsAreClearErrorsAndLeaveNoFinalModel) {
  test::TempDir tmp;
  test::write_prompts(tmp.path() / "prompts.jsonl", 8);
  const std::string base = "ppo --model " + kPpoModel + " --data " + (tmp.path() / "prompts.jsonl").string() +
                           " --per_device_train_batch_size 4 --response_length 4 --max_steps 2";
  auto expect_error = [&](const std::string& extra, const std::string& words, const std::string& dir) {
    auto r = test::run_prefer(base + " " + extra + " --output_dir " + (tmp.path() / dir).string());
    EXPECT_NE(r.exit_code, 0) << r.output;
    EXPECT_NE(r.output.find(words), std::string::npos) << r.output;
    EXPECT_EQ(r.output.find("internal error"), std::string::npos) << r.output;
    EXPECT_FALSE(fs::exists(tmp.path() / dir / "final"));
  };
  expect_error("", "needs a reward", "none");
  expect_error("--reward_command 'exit 3'", "exit 3", "crash");
  expect_error("--reward_command 'sleep 30' --command_timeout 1", "sleep 30", "hang");
  expect_error("--reward_command 'yes nope | head -4'", "a reward score is a finite number", "words");
  expect_error("--reward_command 'yes 1 | head -3'", "yes 1 | head -3", "count");
  expect_error("--reward_model " + kPpoModel, "not a reward model", "causal");
  expect_error("--reward_command 'yes 1 | head -4' --response_length 2047", "past the model's context", "long");
  test::write_bytes(tmp.path() / "bad.jsonl", "{\"prompt\": \"fine\"}\n{\"question\": 3}\n");
  auto bad = test::run_prefer("ppo --model " + kPpoModel + " --data " + (tmp.path() / "bad.jsonl").string() +
                              " --reward_command 'cat' --output_dir " + (tmp.path() / "badline").string());
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.output.find("bad.jsonl:2"), std::string::npos) << bad.output;
}

}  // namespace
}  // namespace prefer
