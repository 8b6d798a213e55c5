#include "cli/cli_run.h"
#include "cli/run_files.h"
#include "test_util.h"
#include "util/file.h"
#include "util/json.h"

namespace prefer {
namespace fs = std::filesystem;

TEST(SweepE2E, TrainsEvaluatesComparesAndResumes) {
  test::TempDir tmp;
  test::write_prefs(tmp / "p.jsonl", 8);
  const std::string model = test::fixture("models/llama-tiny").string();
  const std::string args = "sweep --threads 1 --param beta --values 0.1,0.5 --output_dir " + (tmp / "out").string() + " --data " +
                           (tmp / "p.jsonl").string() + " -- dpo --threads 1 --model " + model + " --data " + (tmp / "p.jsonl").string() +
                           " --cache_dir " + (tmp / "cache").string() +
                           " --per_device_train_batch_size 4 --learning_rate 1e-3 --max_steps 2 --use_peft --lora_r 4 --seed 5";
  auto r = test::run_prefer(args);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  Json s = read_json_file(tmp / "out" / "sweep.json");
  ASSERT_EQ(s["runs"].size(), 2u);
  EXPECT_EQ(s["reference"], model);  // the trainer's starting model
  for (const auto& [i, v] : std::vector<std::pair<int, std::string>>{{0, "0.1"}, {1, "0.5"}}) {
    const fs::path run = tmp / "out" / ("beta=" + v);
    EXPECT_TRUE(fs::exists(run / "final" / "adapter_config.json")) << run;
    // Each run trained with its value, and its eval (same options) is the one recorded.
    EXPECT_NE(read_file(run / "config.yaml").find("beta: " + v), std::string::npos) << read_file(run / "config.yaml");
    Json e = read_json_file(run / "eval" / "eval.json");
    EXPECT_EQ(s["runs"][i]["eval"]["preference_accuracy"], e["preference_accuracy"]);
    EXPECT_EQ(s["runs"][i]["value"], v);
  }
  // The best run is the one with the higher held-out accuracy (no win rate here); ties keep the first.
  const double a0 = s["runs"][0]["eval"]["preference_accuracy"]["accuracy"], a1 = s["runs"][1]["eval"]["preference_accuracy"]["accuracy"];
  EXPECT_EQ(s["best"], a1 > a0 ? "0.5" : "0.1");
  EXPECT_EQ(s["ranked_by"], "preference_accuracy");
  EXPECT_NE(r.output.find("best: beta="), std::string::npos) << r.output;

  // A second sweep keeps the finished runs instead of training again.
  auto again = test::run_prefer(args);
  ASSERT_EQ(again.exit_code, 0) << again.output;
  EXPECT_NE(again.output.find("beta=0.1: already trained"), std::string::npos) << again.output;

  auto bad = test::run_prefer("sweep --param beta --values 0.1 --output_dir " + (tmp / "x").string() + " --data " + (tmp / "p.jsonl").string() +
                              " -- dpo --model " + model + " --beta 0.3");
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.output.find("'beta': is set by prefer sweep"), std::string::npos) << bad.output;
}

}  // namespace prefer
