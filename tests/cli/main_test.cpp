#include "cli/cli_run.h"
#include "test_util.h"

namespace prefer {

TEST(CliE2E, HelpListsTheSubcommands) {
  auto r = test::run_prefer("--help");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("demo"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("inspect"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("--threads"), std::string::npos) << r.output;
  auto sub = test::run_prefer("inspect --help");
  EXPECT_EQ(sub.exit_code, 0);
  EXPECT_NE(sub.output.find("--model"), std::string::npos) << sub.output;
}

TEST(CliE2E, NoOrUnknownSubcommandFails) {
  EXPECT_NE(test::run_prefer("").exit_code, 0);
  auto r = test::run_prefer("frobnicate");
  EXPECT_NE(r.exit_code, 0);
}

TEST(CliE2E, ErrorsArePrintedOnceWithFileAndExitNonZero) {
  test::TempDir tmp;
  test::write_bytes(tmp / "config.json", "{\"architectures\": [\"LlamaForCausalLM\"]}");
  auto r = test::run_prefer("inspect --model " + tmp.path().string());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.output.rfind("error: ", 0), 0u) << r.output;
  EXPECT_NE(r.output.find("config.json: 'vocab_size': required field is missing"), std::string::npos) << r.output;
  EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
}

TEST(CliE2E, UnknownFlagSuggestsTheNearestName) {
  auto r = test::run_prefer("dpo --lerning_rate 1e-5 --model x --data y --output_dir z");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("did you mean --learning_rate?"), std::string::npos) << r.output;
}

TEST(CliE2E, BadGlobalOptionValues) {
  EXPECT_NE(test::run_prefer("--threads -2 demo").exit_code, 0);
  auto r = test::run_prefer("--log_level loud inspect --model " + test::fixture("models/llama-tiny").string());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("unknown log level 'loud'"), std::string::npos) << r.output;
}

}  // namespace prefer
