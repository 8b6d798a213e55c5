#include <regex>

#include "cli/cli_run.h"
#include "test_util.h"
#include "util/json.h"

namespace prefer {

TEST(DemoE2E, TellsTheWholeStory) {
  // SFT (mostly the verbose, overconfident style), a reward model, DPO, then prefer eval: the aligned
  // model answers in the preferred style and the reward-model judge says it wins.
  test::TempDir tmp;
  auto r = test::run_prefer("demo --output_dir " + (tmp / "demo").string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("LlamaForCausalLM"), std::string::npos);
  for (const char* stage : {"$ prefer data validate", "$ prefer sft", "$ prefer reward", "$ prefer dpo", "$ prefer eval"})
    EXPECT_NE(r.output.find(stage), std::string::npos) << stage;
  Json e = read_json_file(tmp / "demo" / "dpo" / "eval" / "eval.json");
  EXPECT_GE(e["win_rate"].get<double>(), 0.6) << r.output;
  EXPECT_GE(e["preference_accuracy"]["accuracy"].get<double>(), 0.9);
  int sft_verbose = 0, aligned_concise = 0;
  for (const auto& s : read_jsonl_file(tmp / "demo" / "dpo" / "eval" / "samples.jsonl")) {
    sft_verbose += s.value["completion_reference"].get<std::string>().rfind(" Well,", 0) == 0;
    const std::string a = s.value["completion_model"].get<std::string>();
    aligned_concise += a == " I am not sure." || a.rfind(" It is ", 0) == 0;
  }
  EXPECT_GE(sft_verbose, 20);  // of 32: before, mostly the bad style
  EXPECT_GE(aligned_concise, 20);  // after, mostly the good one
  std::smatch m;
  EXPECT_TRUE(std::regex_search(r.output, m, std::regex(R"(The aligned model wins (\d+)% of 32 held-out questions)"))) << r.output;
  for (const char* f : {"sft/final/model.safetensors", "rm/final/config.json", "dpo/final/adapter_model.safetensors", "dpo/eval/samples.html", "dpo/report.html", "sft/report.html"})
    EXPECT_TRUE(std::filesystem::exists(tmp / "demo" / f)) << f;
}

}  // namespace prefer
