#include "cli/cli_run.h"
#include "test_util.h"
#include "util/json.h"

namespace prefer {

TEST(TokenizeE2E, TextJsonlChatAndDecode) {
  test::TempDir tmp;
  const std::string m = test::fixture("models/llama-tiny").string();
  test::write_bytes(tmp / "t.txt", "The answer is short.\n");
  auto r = test::run_prefer("tokenize --model " + m + " --input " + (tmp / "t.txt").string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  Json j = Json::parse(r.output);
  EXPECT_EQ(j["ids"], Json({290, 302, 281, 273, 286, 121, 51}));  // the fixture README's ids
  EXPECT_EQ(j["tokens"][1], "\xC4\xA0" "answer");

  test::write_bytes(tmp / "c.jsonl", R"({"messages": [{"role": "user", "content": "hi"}]})" "\n");
  auto c = test::run_prefer("tokenize --chat --model " + m + " --input " + (tmp / "c.jsonl").string());
  ASSERT_EQ(c.exit_code, 0) << c.output;
  Json cj = Json::parse(c.output);
  EXPECT_EQ(cj["ids"][0], 3);   // <|im_start|>
  EXPECT_EQ(cj["tokens"].back(), "\xC4\x8A");  // the template's trailing newline

  test::write_bytes(tmp / "ids.jsonl", "{\"ids\": [3, 290, 302, 4]}\n");
  auto d = test::run_prefer("tokenize --decode --skip_special_tokens --model " + m + " --input " + (tmp / "ids.jsonl").string());
  ASSERT_EQ(d.exit_code, 0) << d.output;
  EXPECT_EQ(Json::parse(d.output)["text"], "The answer");

  test::write_bytes(tmp / "bad.txt", "ok\nbad \xFF byte\n");
  auto b = test::run_prefer("tokenize --model " + m + " --input " + (tmp / "bad.txt").string());
  EXPECT_EQ(b.exit_code, 1);
  EXPECT_NE(b.output.find("bad.txt:2: invalid UTF-8 at byte 4"), std::string::npos) << b.output;
}

}  // namespace prefer
