#include "cli/cli_run.h"
#include "test_util.h"

namespace prefer {

TEST(DemoE2E, RunsOnTheBundledModels) {
  auto r = test::run_prefer("demo --threads 1");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("1 threads"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("LlamaForCausalLM"), std::string::npos);
  EXPECT_NE(r.output.find("Qwen2ForCausalLM"), std::string::npos);
  EXPECT_NE(r.output.find("re-read bit-exact"), std::string::npos);
}

TEST(DemoE2E, BadModelFolderFailsCleanly) {
  test::TempDir tmp;
  auto r = test::run_prefer("demo --model " + (tmp / "missing").string());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("model folder does not exist"), std::string::npos) << r.output;
}

}  // namespace prefer
