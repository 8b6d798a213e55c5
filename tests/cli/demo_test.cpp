#include <regex>

#include "cli/cli_run.h"
#include "test_util.h"

namespace prefer {

TEST(DemoE2E, TellsTheWholeStory) {
  test::TempDir tmp;
  auto r = test::run_prefer("demo --threads 1 --output_dir " + (tmp / "demo").string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("LlamaForCausalLM"), std::string::npos);
  EXPECT_NE(r.output.find("prefer data validate: 192 records, 0 errors"), std::string::npos) << r.output;
  std::smatch before, after;
  ASSERT_TRUE(std::regex_search(r.output, before, std::regex(R"(per token\) on (\d+)% of held-out pairs)"))) << r.output;
  ASSERT_TRUE(std::regex_search(r.output, after, std::regex(R"(aligned model prefers the chosen response on (\d+)%)"))) << r.output;
  // The held-out pairs are built so that an untrained model can only guess; DPO must do better.
  EXPECT_LE(std::stoi(before[1]), 70);
  EXPECT_GE(std::stoi(after[1]), std::stoi(before[1]) + 20);
  for (const char* f : {"config.yaml", "metrics.jsonl", "warnings.jsonl", "final/adapter_model.safetensors", "checkpoint-100/trainer_state.json"})
    EXPECT_TRUE(std::filesystem::exists(tmp / "demo" / "run" / f)) << f;
}

}  // namespace prefer
