// `prefer reward` and `prefer score` end to end: the reward model learns a rule planted in synthetic
// pairs (chosen answers end with a fixed phrase) to >= 0.9 held-out accuracy, as a full model and as a
// LoRA adapter, and both forms score through `prefer score`; long pairs are dropped and counted.
#include <cmath>

#include "cli/cli_run.h"
#include "test_util.h"
#include "util/json.h"

namespace prefer {
namespace fs = std::filesystem;

namespace {

// Chosen and rejected share the answer and differ only in their closing phrase (same length in
// characters), so only the rule can tell them apart.
void write_rule_pairs(const fs::path& file, int n, int offset) {
  const char* topics[] = {"the sky", "water", "a cat", "the sun", "bread", "music", "a tree", "the sea", "a road", "snow", "a lamp"};
  std::string s;
  for (int i = offset; i < offset + n; ++i) {
    std::string t = topics[i % 11], extra = std::string(static_cast<size_t>(i % 3), '!');
    s += Json({{"prompt", "Tell me about " + t + extra + "."}, {"chosen", " It is " + t + ". Thank you."},
               {"rejected", " It is " + t + ". Go away now"}}).dump() + "\n";
  }
  test::write_bytes(file, s);
}

// The last logged value of `key`; NaN when no row has it.
double last(const fs::path& run, const char* key) {
  double v = std::nan("");
  for (auto& r : read_jsonl_file(run / "metrics.jsonl"))
    if (r.value.contains(key)) v = r.value[key].get<double>();
  return v;
}

}  // namespace

TEST(RewardE2E, LearnsAPlantedRuleAndScoresThroughPreferScore) {
  test::TempDir tmp;
  write_rule_pairs(tmp / "train.jsonl", 40, 0);
  write_rule_pairs(tmp / "held.jsonl", 20, 40);
  const std::string common = " --threads 1 --model " + test::fixture("models/llama-tiny").string() + " --data " + (tmp / "train.jsonl").string() +
                             " --eval_data " + (tmp / "held.jsonl").string() + " --cache_dir " + (tmp / "cache").string() +
                             " --per_device_train_batch_size 8 --logging_steps 10 --seed 1";
  auto full = test::run_prefer("reward" + common + " --max_steps 30 --learning_rate 1e-3 --output_dir " + (tmp / "full").string());
  ASSERT_EQ(full.exit_code, 0) << full.output;
  EXPECT_GE(last(tmp / "full", "eval_accuracy"), 0.9);
  for (const char* k : {"loss", "accuracy", "margin", "min_reward", "mean_reward", "max_reward"}) EXPECT_TRUE(std::isfinite(last(tmp / "full", k))) << k;
  Json cfg = read_json_file(tmp / "full" / "final" / "config.json");
  EXPECT_EQ(cfg["architectures"][0], "LlamaForSequenceClassification");
  EXPECT_EQ(cfg["num_labels"], 1);
  EXPECT_EQ(cfg["pad_token_id"], 0);

  auto lora = test::run_prefer("reward" + common + " --max_steps 30 --learning_rate 5e-3 --use_peft --lora_r 8 --output_dir " + (tmp / "lora").string());
  ASSERT_EQ(lora.exit_code, 0) << lora.output;
  EXPECT_GE(last(tmp / "lora", "eval_accuracy"), 0.9);
  Json ac = read_json_file(tmp / "lora" / "final" / "adapter_config.json");
  EXPECT_EQ(ac["task_type"], "SEQ_CLS");

  for (const std::string model : {(tmp / "full").string(), (tmp / "lora" / "final").string()}) {
    const fs::path out = tmp / (fs::path(model).filename().string() + ".jsonl");
    auto s = test::run_prefer("score --threads 1 --model " + model + " --data " + (tmp / "held.jsonl").string() + " --output " + out.string());
    ASSERT_EQ(s.exit_code, 0) << s.output;
    EXPECT_NE(s.output.find("20 pairs"), std::string::npos) << s.output;
    auto rows = read_jsonl_file(out);
    ASSERT_EQ(rows.size(), 20u);
    int right = 0;
    for (const auto& r : rows) {
      EXPECT_TRUE(r.value.contains("prompt"));  // the input object, then its scores
      right += r.value["chosen_score"].get<double>() > r.value["rejected_score"].get<double>();
    }
    EXPECT_GE(right, 18) << model;
  }
  // Single completions get one score each.
  test::write_bytes(tmp / "single.jsonl", "{\"prompt\": \"Tell me about snow.\", \"completion\": \" It is snow. Thank you.\"}\n");
  auto one = test::run_prefer("score --threads 1 --model " + (tmp / "full").string() + " --data " + (tmp / "single.jsonl").string() +
                              " --output " + (tmp / "one.jsonl").string());
  ASSERT_EQ(one.exit_code, 0) << one.output;
  EXPECT_TRUE(read_jsonl_file(tmp / "one.jsonl")[0].value.contains("score"));
  // A causal LM is not a reward model.
  auto lm = test::run_prefer("score --threads 1 --model " + test::fixture("models/llama-tiny").string() + " --data " + (tmp / "single.jsonl").string() +
                             " --output " + (tmp / "x.jsonl").string());
  EXPECT_EQ(lm.exit_code, 1);
  EXPECT_NE(lm.output.find("not a reward model"), std::string::npos) << lm.output;
}

TEST(RewardE2E, PairsLongerThanMaxLengthAreDroppedAndCounted) {
  test::TempDir tmp;
  write_rule_pairs(tmp / "train.jsonl", 8, 0);
  auto r = test::run_prefer("reward --threads 1 --model " + test::fixture("models/llama-tiny").string() + " --data " + (tmp / "train.jsonl").string() +
                            " --cache_dir " + (tmp / "cache").string() + " --max_length 20 --max_steps 1 --output_dir " + (tmp / "run").string());
  // Every pair is longer than 20 tokens: all dropped, and the run says why it has nothing to train on.
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("8 of 8 training pairs are longer than max_length 20 and were dropped"), std::string::npos) << r.output;
}

}  // namespace prefer
