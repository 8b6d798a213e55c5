#include <ATen/ATen.h>

#include "cli/cli_run.h"
#include "test_util.h"
#include "util/json.h"
#include "safetensors_fixture.h"

namespace prefer {

TEST(GenerateE2E, GreedyIdsEqualTheFixture) {
  // expected.safetensors' greedy_ids: 12 greedy tokens continuing each fixture sequence (float64 reference).
  test::TempDir tmp;
  Json c = read_json_file(test::fixture("models/llama-tiny/case.json"));
  std::string in;
  for (const Json& s : c["sequences"]) in += Json({{"prompt_ids", s["ids"]}, {"id", s["index"]}}).dump() + "\n";
  test::write_bytes(tmp / "p.jsonl", in);
  auto r = test::run_prefer("generate --threads 1 --max_new_tokens 12 --model " + test::fixture("models/llama-tiny").string() +
                            " --data " + (tmp / "p.jsonl").string() + " --output " + (tmp / "o.jsonl").string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto out = read_jsonl_file(tmp / "o.jsonl");
  ASSERT_EQ(out.size(), 3u);
  std::vector<std::vector<int64_t>> greedy = test::fixture_int_matrix("models/llama-tiny/expected.safetensors", "greedy_ids");
  for (size_t b = 0; b < 3; ++b) {
    EXPECT_EQ(out[b].value["id"], c["sequences"][b]["index"]);  // the input's fields are kept
    EXPECT_EQ(out[b].value["completion_ids"].get<std::vector<int64_t>>(), greedy[b]) << b;
    EXPECT_TRUE(out[b].value["completion"].is_string());
  }
}

TEST(GenerateE2E, TextAndChatPromptsAndErrors) {
  test::TempDir tmp;
  test::write_bytes(tmp / "p.jsonl", R"({"prompt": "The answer is"})" "\n" R"({"messages": [{"role": "user", "content": "hi"}]})" "\n");
  auto r = test::run_prefer("generate --threads 1 --max_new_tokens 3 --do_sample true --seed 3 --model " +
                            test::fixture("models/qwen2-tiny").string() + " --data " + (tmp / "p.jsonl").string() + " --output " +
                            (tmp / "o.jsonl").string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto out = read_jsonl_file(tmp / "o.jsonl");
  ASSERT_EQ(out.size(), 2u);
  EXPECT_LE(out[0].value["completion_ids"].size(), 3u);
  test::write_bytes(tmp / "bad.jsonl", R"({"question": "x"})" "\n");
  auto bad = test::run_prefer("generate --model " + test::fixture("models/qwen2-tiny").string() + " --data " + (tmp / "bad.jsonl").string() +
                              " --output " + (tmp / "x.jsonl").string());
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.output.find("bad.jsonl:1: needs a prompt"), std::string::npos) << bad.output;
  EXPECT_FALSE(std::filesystem::exists(tmp / "x.jsonl"));
}

}  // namespace prefer
