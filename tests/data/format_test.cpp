#include "data/format.h"

#include "test_util.h"

namespace prefer::data {

namespace {
Dataset read(const test::TempDir& tmp, const std::string& content, ReadOptions opt = {}, const std::string& name = "d.jsonl") {
  test::write_bytes(tmp / name, content);
  return read_dataset(tmp / name, opt);
}
}  // namespace

TEST(Format, StandardPreference) {
  test::TempDir tmp;
  Dataset d = read(tmp, R"({"prompt": "Q?", "chosen": " yes", "rejected": " no", "margin": 1.5})" "\n"
                        R"({"prompt": "", "chosen": "a", "rejected": "b"})" "\n");
  EXPECT_EQ(d.kind, DatasetKind::Preference);
  EXPECT_FALSE(d.conversational);
  EXPECT_FALSE(d.implicit_prompt);
  ASSERT_EQ(d.examples.size(), 2u);
  EXPECT_EQ(d.examples[0].prompt.text, "Q?");
  EXPECT_EQ(d.examples[0].chosen.text, " yes");
  EXPECT_EQ(d.examples[0].margin, 1.5);
  EXPECT_EQ(d.examples[1].line, 2);
}

TEST(Format, ImplicitPromptAndConversational) {
  test::TempDir tmp;
  Dataset d = read(tmp, R"({"chosen": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}],)"
                        R"( "rejected": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "go away"}]})");
  EXPECT_TRUE(d.conversational);
  EXPECT_TRUE(d.implicit_prompt);
  EXPECT_EQ(d.examples[0].chosen.messages[1]["content"], "hello");
  EXPECT_EQ(d.examples[0].chosen.messages[0].begin().key(), "role");  // key order kept
}

TEST(Format, UnpairedSftPretokenizedAndColumnMapping) {
  test::TempDir tmp;
  EXPECT_EQ(read(tmp, R"({"prompt": "p", "completion": "c", "label": false})").kind, DatasetKind::Unpaired);
  EXPECT_EQ(read(tmp, R"({"text": "hello"})").kind, DatasetKind::Sft);
  EXPECT_EQ(read(tmp, R"({"messages": [{"role": "user", "content": "x"}]})").kind, DatasetKind::Sft);
  Dataset p = read(tmp, R"({"prompt_ids": [1, 5], "chosen_ids": [7, 2], "rejected_ids": [8]})");
  EXPECT_TRUE(p.pretokenized);
  EXPECT_EQ(p.examples[0].chosen.ids, (std::vector<int32_t>{7, 2}));
  ReadOptions opt;
  opt.columns.prompt = "question";
  opt.columns.chosen = "good";
  opt.columns.rejected = "bad";
  Dataset m = read(tmp, R"({"question": "q", "good": "g", "bad": "b"})", opt);
  EXPECT_EQ(m.examples[0].prompt.text, "q");
}

TEST(Format, JsonArrayFiles) {
  test::TempDir tmp;
  Dataset d = read(tmp, R"([{"prompt": "a", "chosen": "b", "rejected": "c"}, {"prompt": "d", "chosen": "e", "rejected": "f"}])", {},
                   "d.json");
  ASSERT_EQ(d.examples.size(), 2u);
  EXPECT_EQ(d.examples[1].line, 2);
}

TEST(Format, BadInputNamesFileLineAndField) {
  test::TempDir tmp;
  EXPECT_ERROR_WITH(read(tmp, ""), "d.jsonl", "holds no records");
  EXPECT_ERROR_WITH(read(tmp, "{\"prompt\": \"a\", \"chosen\": \"b\", \"rejected\": \"c\"}\nnot json\n"), "d.jsonl:2", "invalid JSON");
  EXPECT_ERROR_WITH(read(tmp, R"({"prompt": "a", "chosen": "b"})" "\n" R"({"prompt": "a", "chosen": "b", "rejected": "c"})"),
                    "d.jsonl:1", "'rejected'", "missing");
  EXPECT_ERROR_WITH(read(tmp, R"({"prompt": "a", "chosen": 5, "rejected": "c"})"), "d.jsonl:1", "'chosen'",
                    "expected a string or a list of messages, found an integer");
  EXPECT_ERROR_WITH(read(tmp, R"({"prompt": "a", "chosen": "", "rejected": "c"})"), "'chosen'", "is empty");
  EXPECT_ERROR_WITH(read(tmp, "{\"prompt\": \"a\", \"chosen\": \"\xC3(\", \"rejected\": \"c\"}"), "d.jsonl:1", "invalid UTF-8");
  EXPECT_ERROR_WITH(read(tmp, R"({"prompt": "a", "chosen": "same", "rejected": "same"})"), "'rejected'", "identical");
  EXPECT_ERROR_WITH(read(tmp, R"({"chosen": [{"role": "robot", "content": "x"}], "rejected": [{"role": "user", "content": "y"}]})"),
                    "'chosen[0].role'", "unknown role 'robot'", "known roles");
  EXPECT_ERROR_WITH(read(tmp, "{\"prompt\": \"" + std::string(10u << 20, 'x') + "\", \"chosen\": \"a\", \"rejected\": \"b\"}"),
                    "d.jsonl:1", "line is 10.5 MB, over the limit of 8.4 MB");
  EXPECT_ERROR_WITH(read(tmp, R"({"foo": 1})"), "cannot tell the dataset format", "foo");
  EXPECT_ERROR_WITH(read_dataset(tmp / "missing.jsonl"), "data file does not exist");
  ReadOptions kto;
  kto.expect = DatasetKind::Unpaired;
  EXPECT_ERROR_WITH(read(tmp, R"({"prompt": "a", "chosen": "b", "rejected": "c"})", kto), "needs unpaired data", "prefer data unpair");
}

TEST(Format, CollectingModeReportsEveryBadLine) {
  test::TempDir tmp;
  ReadOptions opt;
  opt.collect_errors = true;
  Dataset d = read(tmp,
                   R"({"prompt": "a", "chosen": "b", "rejected": "c"})" "\n"
                   "garbage\n"
                   R"({"prompt": "a", "chosen": 3, "rejected": "c"})" "\n"
                   R"({"prompt": "a", "chosen": "b", "rejected": "c"})" "\n"
                   R"({"prompt": "a", "chosen": "b"})" "\n",
                   opt);
  EXPECT_EQ(d.records, 5);
  EXPECT_EQ(d.examples.size(), 2u);
  ASSERT_EQ(d.errors.size(), 3u);
  EXPECT_EQ(d.errors[0].line(), 2);
  EXPECT_EQ(d.errors[1].field(), "chosen");
  EXPECT_EQ(d.errors[2].line(), 5);
}

}  // namespace prefer::data
