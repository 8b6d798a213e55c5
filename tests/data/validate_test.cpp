#include "data/validate.h"

#include "test_util.h"

namespace prefer::data {

namespace {
struct Env {
  test::TempDir tmp;
  TextModel model = TextModel::load(test::fixture("models/qwen2-tiny"));
  Json run(const std::string& content, ValidateOptions opt = {}) {
    test::write_bytes(tmp / "d.jsonl", content);
    return validate_dataset(tmp / "d.jsonl", model, opt);
  }
};
bool has_warning(const Json& r, const std::string& check) {
  for (const Json& w : r["warnings"])
    if (w["check"] == check) return true;
  return false;
}
}  // namespace

TEST(Validate, ReportsEveryBadLineAndKeepsGoing) {
  Env env;
  Json r = env.run(R"({"prompt": "a", "chosen": " b", "rejected": " c"})" "\n"
                   "oops\n"
                   R"({"prompt": "a", "chosen": 5, "rejected": " c"})" "\n"
                   R"({"prompt": "a", "chosen": "", "rejected": " c"})" "\n"
                   R"({"prompt": "a", "chosen": " b", "rejected": " b"})" "\n"
                   R"({"prompt": "x", "chosen": " y", "rejected": " z"})" "\n");
  EXPECT_EQ(r["exit_code"], 1);
  EXPECT_EQ(r["records"], 6);
  EXPECT_EQ(r["valid"], 2);
  ASSERT_EQ(r["errors"].size(), 4u);
  EXPECT_EQ(r["errors"][0]["line"], 2);
  EXPECT_EQ(r["errors"][1]["field"], "chosen");
  EXPECT_NE(r["errors"][2]["text"].get<std::string>().find("d.jsonl:4: 'chosen': is empty"), std::string::npos);
  EXPECT_NE(r["errors"][3]["message"].get<std::string>().find("identical"), std::string::npos);
}

TEST(Validate, DatasetChecksFire) {
  Env env;
  std::string lines;
  lines += R"({"prompt": "Q1", "chosen": " a much longer answer here", "rejected": " no"})" "\n";
  lines += R"({"prompt": "Q1", "chosen": " a much longer answer here", "rejected": " no"})" "\n";  // exact duplicate
  lines += R"({"prompt": "q1", "chosen": " A much longer answer, here", "rejected": " No"})" "\n";  // near duplicate
  lines += R"({"prompt": "Q2", "chosen": " yes", "rejected": " nope"})" "\n";
  lines += R"({"prompt": "Q2", "chosen": " nope", "rejected": " yes"})" "\n";  // contradiction
  ValidateOptions opt;
  opt.eval_split = 0.2;
  opt.prepare.tokenize.max_length = 8;
  opt.show = 1;
  Json r = env.run(lines, opt);
  EXPECT_EQ(r["exit_code"], 0);
  const Json& c = r["checks"];
  EXPECT_EQ(c["count"], 5);
  EXPECT_EQ(c["duplicates"]["exact"], 1);
  EXPECT_EQ(c["duplicates"]["near"], 1);
  EXPECT_EQ(c["contradictions"]["pairs"], 1);
  EXPECT_EQ(c["split"]["eval"], 1);
  EXPECT_EQ(c["split"]["train"], 4);
  EXPECT_GT(c["lengths"]["truncated"].get<int64_t>(), 0);
  EXPECT_TRUE(has_warning(r, "count"));  // 5 < 1000
  EXPECT_TRUE(has_warning(r, "duplicates"));
  EXPECT_TRUE(has_warning(r, "contradictions"));
  EXPECT_TRUE(has_warning(r, "length_bias"));  // chosen longer in 4 of 5
  EXPECT_TRUE(has_warning(r, "chat_template"));  // plain text prompts, chat model
  EXPECT_TRUE(has_warning(r, "split"));
  ASSERT_EQ(r["show"].size(), 1u);
  EXPECT_EQ(r["show"][0]["prompt_text"], "Q1");
  EXPECT_NE(format_validation_report(r).find("contradictory pairs: 1"), std::string::npos);
}

TEST(Validate, DoubleEosAndChatMarkers) {
  Env env;
  Json r = env.run(R"({"prompt": "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n", "chosen": "ok<|im_end|><|im_end|>", "rejected": "no"})");
  EXPECT_EQ(r["checks"]["special_tokens"]["double_eos"], 1);
  EXPECT_EQ(r["checks"]["chat_template"]["text_prompts_with_special_tokens"], 1);
  EXPECT_FALSE(has_warning(r, "chat_template"));
}

TEST(Validate, EmptyFileIsAnErrorMissingFileCannotBeRead) {
  Env env;
  Json r = env.run("");
  EXPECT_EQ(r["exit_code"], 1);
  EXPECT_NE(r["errors"][0]["message"].get<std::string>().find("no records"), std::string::npos);
  EXPECT_ERROR_WITH(validate_dataset(env.tmp / "none.jsonl", env.model, {}), "does not exist");
}

TEST(Validate, UnknownRoleInAConversation) {
  Env env;
  Json r = env.run(R"({"prompt": [{"role": "user", "content": "hi"}], "chosen": [{"role": "assistant", "content": "a"}], "rejected": [{"role": "assistant", "content": "b"}]})" "\n"
                   R"({"prompt": [{"role": "wizard", "content": "hi"}], "chosen": [{"role": "assistant", "content": "a"}], "rejected": [{"role": "assistant", "content": "b"}]})" "\n");
  EXPECT_EQ(r["style"], "conversational");
  ASSERT_EQ(r["errors"].size(), 1u);
  EXPECT_EQ(r["errors"][0]["field"], "prompt[0].role");
  EXPECT_EQ(r["errors"][0]["line"], 2);
}

}  // namespace prefer::data
