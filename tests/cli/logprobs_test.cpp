#include <cmath>

#include "cli/cli_run.h"
#include "safetensors_fixture.h"
#include "test_util.h"
#include "util/json.h"

namespace prefer {

TEST(LogprobsE2E, PairsSingleCompletionsAndReference) {
  // The fixture's case.json sequences with their expected summed response log-probs (float64 reference).
  test::TempDir tmp;
  Json c = read_json_file(test::fixture("models/llama-tiny/case.json"));
  std::string in;
  for (const Json& s : c["sequences"]) {
    std::vector<int64_t> ids = s["ids"];
    int64_t p = s["prompt_length"];
    in += Json({{"prompt_ids", std::vector<int64_t>(ids.begin(), ids.begin() + p)},
                {"completion_ids", std::vector<int64_t>(ids.begin() + p, ids.end())}})
              .dump() +
          "\n";
  }
  test::write_bytes(tmp / "single.jsonl", in);
  const std::string m = test::fixture("models/llama-tiny").string();
  auto r = test::run_prefer("logprobs --threads 1 --no_cache --model " + m + " --data " + (tmp / "single.jsonl").string() + " --output " +
                            (tmp / "o.jsonl").string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto out = read_jsonl_file(tmp / "o.jsonl");
  ASSERT_EQ(out.size(), 3u);
  std::vector<double> expected = test::fixture_doubles("models/llama-tiny/expected.safetensors", "logprob_sum");
  for (size_t b = 0; b < 3; ++b) {
    EXPECT_NEAR(out[b].value["logps"].get<double>(), expected[b], 1e-4) << b;
    EXPECT_EQ(out[b].value["num_tokens"], c["sequences"][b]["response_length"]);
  }

  test::write_bytes(tmp / "pairs.jsonl", R"({"prompt": "The answer is", "chosen": " short.", "rejected": " long."})" "\n");
  auto p = test::run_prefer("logprobs --threads 1 --no_cache --model " + m + " --reference " + m + " --data " + (tmp / "pairs.jsonl").string() +
                            " --output " + (tmp / "p.jsonl").string());
  ASSERT_EQ(p.exit_code, 0) << p.output;
  Json row = read_jsonl_file(tmp / "p.jsonl")[0].value;
  EXPECT_EQ(row["prefers_chosen"], row["chosen_logps"].get<double>() > row["rejected_logps"].get<double>());
  EXPECT_NEAR(row["rewards_margin"].get<double>(), 0.0, 1e-12);  // the model is its own reference
  EXPECT_NE(p.output.find("1 pairs"), std::string::npos) << p.output;
}

}  // namespace prefer
