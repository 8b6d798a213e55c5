#include "cli/cli_run.h"
#include "test_util.h"
#include "util/json.h"

namespace prefer {

TEST(InspectE2E, JsonSummaryOfTheQwen2Fixture) {
  auto r = test::run_prefer("inspect --json --tensors --model " + test::fixture("models/qwen2-tiny").string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  Json s = Json::parse(r.output);
  EXPECT_EQ(s["architecture"], "Qwen2ForCausalLM");
  EXPECT_EQ(s["num_hidden_layers"], 2);
  EXPECT_EQ(s["tie_word_embeddings"], true);
  EXPECT_EQ(s["weights"]["tensors"], 26);  // 12 per layer x 2 + embed + norm, no lm_head (tied)
  EXPECT_EQ(s["weights"]["list"].size(), 26u);
  EXPECT_EQ(s["tokenizer_files"], Json({"tokenizer.json", "tokenizer_config.json"}));
}

TEST(InspectE2E, TextSummary) {
  auto r = test::run_prefer("inspect --model " + test::fixture("models/llama-tiny").string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("4 query / 2 key-value heads x head_dim 16"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("30 tensors"), std::string::npos) << r.output;
}

TEST(InspectE2E, TruncatedWeightsAreReportedWithTheFile) {
  test::TempDir tmp;
  std::filesystem::copy(test::fixture("models/llama-tiny"), tmp.path(), std::filesystem::copy_options::recursive);
  std::filesystem::resize_file(tmp / "model.safetensors", 5000);
  auto r = test::run_prefer("inspect --model " + tmp.path().string());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("model.safetensors"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("truncated"), std::string::npos) << r.output;
}

}  // namespace prefer
