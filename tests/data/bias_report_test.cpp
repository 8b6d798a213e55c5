#include "data/bias_report.h"

#include "test_util.h"

namespace prefer::data {

// A hand-made file of 10 pairs with known numbers:
//   chosen longer in 8 (rows 0-7: chosen "long answer here", rejected "short"; rows 8-9: chosen "x",
//   rejected "not x at all") -> share 0.8; ratios 16/5 = 3.2 (x8) and 1/12 (x2): median 3.2, mean
//   (8 * 3.2 + 2/12) / 10 = 2.5766...
//   prompts: "Q0".."Q6", then "q0!" (near duplicate of Q0), "Q1" (exact duplicate) and "Q9"
//   row 9 is an exact duplicate of row 8 only if the prompts match: they do not, so 0 repeated pairs
//   near-identical: none (16 vs 5 chars share no words; "x" vs "not x at all": 1 of 4 words)
//   topic: 7 "cardiology", 3 "oncology" -> largest 0.7, warned (10 rows)
TEST(BiasReport, HandMadeFileNumbers) {
  test::TempDir tmp;
  std::string s;
  const char* prompts[] = {"Q0", "Q1", "Q2", "Q3", "Q4", "Q5", "Q6", "q0!", "Q1", "Q9"};
  for (int i = 0; i < 10; ++i) {
    const bool longer = i < 8;
    s += std::string(R"({"prompt": ")") + prompts[i] + R"(", "chosen": ")" + (longer ? "long answer here" : "x") + R"(", "rejected": ")" +
         (longer ? "short" : "not x at all") + R"(", "topic": ")" + (i < 7 ? "cardiology" : "oncology") + "\"}\n";
  }
  test::write_bytes(tmp / "d.jsonl", s);
  Json r = bias_report(tmp / "d.jsonl");
  EXPECT_EQ(r["pairs"], 10);
  EXPECT_DOUBLE_EQ(r["length"]["chosen_longer_share"].get<double>(), 0.8);
  EXPECT_DOUBLE_EQ(r["length"]["median_length_ratio"].get<double>(), 3.2);
  EXPECT_NEAR(r["length"]["mean_length_ratio"].get<double>(), (8 * 3.2 + 2.0 / 12) / 10, 1e-12);
  EXPECT_EQ(r["duplicates"]["prompts_exact"], 1);
  EXPECT_EQ(r["duplicates"]["prompts_near"], 2);
  EXPECT_EQ(r["duplicates"]["pairs"], 0);
  EXPECT_EQ(r["near_identical_pairs"]["count"], 0);
  EXPECT_EQ(r["groups"]["column"], "topic");
  EXPECT_EQ(r["groups"]["largest"], "cardiology");
  EXPECT_DOUBLE_EQ(r["groups"]["largest_share"].get<double>(), 0.7);
  const std::string text = r["warnings"].dump();
  EXPECT_NE(text.find("length bias"), std::string::npos) << text;
  EXPECT_NE(text.find("repeat another one"), std::string::npos) << text;
  EXPECT_NE(text.find("cardiology"), std::string::npos) << text;
  EXPECT_NE(format_bias_report(r).find("chosen longer in 80%"), std::string::npos) << format_bias_report(r);
}

TEST(BiasReport, NearIdenticalPairsAndUnpairedRows) {
  test::TempDir tmp;
  // Conversational pairs whose answers differ in punctuation and case only: near-identical.
  test::write_bytes(tmp / "c.jsonl",
                    R"({"prompt": [{"role": "user", "content": "hi"}], "chosen": [{"role": "assistant", "content": "Hello there, friend."}], "rejected": [{"role": "assistant", "content": "hello there friend"}]})"
                    "\n");
  Json c = bias_report(tmp / "c.jsonl");
  EXPECT_EQ(c["near_identical_pairs"]["count"], 1);
  EXPECT_NE(c["warnings"].dump().find("nearly the same text"), std::string::npos);
  // KTO rows pair up by prompt: desirable "abcd" with undesirable "ab" -> chosen longer, ratio 2.
  test::write_bytes(tmp / "u.jsonl", R"({"prompt": "p", "completion": "abcd", "label": true})" "\n"
                                     R"({"prompt": "p", "completion": "ab", "label": false})" "\n");
  Json u = bias_report(tmp / "u.jsonl");
  EXPECT_EQ(u["pairs"], 1);
  EXPECT_DOUBLE_EQ(u["length"]["median_length_ratio"].get<double>(), 2.0);
}

}  // namespace prefer::data
