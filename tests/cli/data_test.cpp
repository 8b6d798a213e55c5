#include "cli/cli_run.h"
#include "test_util.h"
#include "util/file.h"
#include "util/json.h"

namespace prefer {

namespace {
std::string model() { return test::fixture("models/qwen2-tiny").string(); }
}  // namespace

TEST(DataValidateE2E, ExitCodesAndJson) {
  test::TempDir tmp;
  test::write_bytes(tmp / "ok.jsonl", R"({"prompt": "a", "chosen": " b", "rejected": " c"})" "\n");
  test::write_bytes(tmp / "bad.jsonl", R"({"prompt": "a", "chosen": " b", "rejected": " c"})" "\n" R"({"prompt": "a", "chosen": 1, "rejected": "c"})" "\n");
  auto ok = test::run_prefer("data validate --cache_dir " + (tmp / "c").string() + " --json --data " + (tmp / "ok.jsonl").string() + " --model " + model());
  EXPECT_EQ(ok.exit_code, 0) << ok.output;
  Json r = Json::parse(ok.output);
  EXPECT_EQ(r["records"], 1);
  auto bad = test::run_prefer("data validate --data " + (tmp / "bad.jsonl").string() + " --model " + model());
  EXPECT_EQ(bad.exit_code, 1) << bad.output;
  EXPECT_NE(bad.output.find("bad.jsonl:2: 'chosen': expected a string or a list of messages, found an integer"), std::string::npos) << bad.output;
  auto missing = test::run_prefer("data validate --data " + (tmp / "none.jsonl").string() + " --model " + model());
  EXPECT_EQ(missing.exit_code, 2) << missing.output;
  auto flags = test::run_prefer("data validate --max_length 8 --max_prompt_length 9 --data " + (tmp / "ok.jsonl").string() + " --model " + model());
  EXPECT_EQ(flags.exit_code, 2);
  EXPECT_NE(flags.output.find("'max_prompt_length': must be smaller than max_length"), std::string::npos) << flags.output;
}

TEST(DataValidateE2E, DeepNestingIsAnErrorNotACrash) {
  // 200,000 nested arrays once overflowed the stack (a segmentation fault); now the line is an error
  // that names the limit, among the others when later lines are good, and alone when it is the only one.
  test::TempDir tmp;
  const std::string good = R"({"prompt": "a", "chosen": " b", "rejected": " c"})";
  const std::string deep = R"({"prompt": )" + std::string(200000, '[') + std::string(200000, ']') + R"(, "chosen": " b", "rejected": " c"})";
  test::write_bytes(tmp / "mixed.jsonl", good + "\n" + deep + "\n" + good + "\n");
  test::write_bytes(tmp / "only.jsonl", deep + "\n");
  for (const char* f : {"mixed.jsonl", "only.jsonl"}) {
    auto r = test::run_prefer("data validate --cache_dir " + (tmp / "c").string() + " --data " + (tmp / f).string() + " --model " + model());
    EXPECT_EQ(r.exit_code, 1) << f << r.output;  // errors found
    EXPECT_NE(r.output.find(std::string(f) + (std::string(f) == "mixed.jsonl" ? ":2: " : ":1: ") + "nests arrays and objects more than 512 levels deep"),
              std::string::npos) << r.output;
  }
}

TEST(DataConvertE2E, UnpairThenPairRoundTrips) {
  test::TempDir tmp;
  test::write_bytes(tmp / "p.jsonl", R"({"prompt": "q1", "chosen": " good", "rejected": " bad"})" "\n"
                                     R"({"prompt": "q2", "chosen": " yes", "rejected": " no"})" "\n");
  auto u = test::run_prefer("data unpair --data " + (tmp / "p.jsonl").string() + " --output " + (tmp / "u.jsonl").string());
  ASSERT_EQ(u.exit_code, 0) << u.output;
  auto lines = read_jsonl_file(tmp / "u.jsonl");
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[0].value, Json({{"prompt", "q1"}, {"completion", " good"}, {"label", true}}));
  EXPECT_EQ(lines[2].value, Json({{"prompt", "q1"}, {"completion", " bad"}, {"label", false}}));
  auto p = test::run_prefer("data pair --data " + (tmp / "u.jsonl").string() + " --output " + (tmp / "back.jsonl").string());
  ASSERT_EQ(p.exit_code, 0) << p.output;
  auto back = read_jsonl_file(tmp / "back.jsonl");
  ASSERT_EQ(back.size(), 2u);
  EXPECT_EQ(back[1].value, Json({{"prompt", "q2"}, {"chosen", " yes"}, {"rejected", " no"}}));
  auto wrong = test::run_prefer("data pair --data " + (tmp / "p.jsonl").string() + " --output " + (tmp / "x.jsonl").string());
  EXPECT_EQ(wrong.exit_code, 1);
  EXPECT_NE(wrong.output.find("needs unpaired data"), std::string::npos) << wrong.output;
  EXPECT_FALSE(std::filesystem::exists(tmp / "x.jsonl"));
}

}  // namespace prefer

namespace prefer {

TEST(DataColumnarE2E, ValidateReadsParquetAndArrowAndNamesTheRow) {
  // Conversational pairs (arrow-rs Parquet, apache-arrow IPC) and flat text pairs (hyparquet-writer).
  test::TempDir tmp;
  for (const char* f : {"zstd.v2.parquet", "typed.stream.arrow", "hyparquet.parquet"}) {
    auto r = test::run_prefer("data validate --json --cache_dir " + (tmp / "c").string() + " --data " +
                              test::fixture(std::string("columnar/") + f).string() + " --model " + model());
    EXPECT_EQ(r.exit_code, 0) << f << r.output;
    Json report = Json::parse(r.output);
    EXPECT_EQ(report["records"], 3) << f;
    EXPECT_EQ(report["style"], std::string(f) == "hyparquet.parquet" ? "plain text" : "conversational") << f;
  }
  // Row 2's topic is null: as the prompt column it is missing, and the error names file, row and field.
  auto bad = test::run_prefer("data validate --prompt_column topic --cache_dir " + (tmp / "c").string() + " --data " +
                              test::fixture("columnar/hyparquet.parquet").string() + " --model " + model());
  EXPECT_EQ(bad.exit_code, 1) << bad.output;
  EXPECT_NE(bad.output.find("hyparquet.parquet:2: 'topic': required field is missing"), std::string::npos) << bad.output;
}

TEST(DataSplitE2E, StratifiedReproducibleFromArrow) {
  test::TempDir tmp;
  // The 3 rows of rows.json as Arrow, flag true, false, true; 1 held out: true's share is 2/3.
  const std::string data = test::fixture("columnar/typed.stream.arrow").string();
  const std::string base = "data split --data " + data + " --test_size 1 --stratify_column flag --seed 5 --output_dir ";
  auto a = test::run_prefer(base + (tmp / "a").string());
  ASSERT_EQ(a.exit_code, 0) << a.output;
  auto b = test::run_prefer(base + (tmp / "b").string());
  ASSERT_EQ(b.exit_code, 0) << b.output;
  const std::string test_a = read_file(tmp / "a" / "test.jsonl");
  EXPECT_EQ(test_a, read_file(tmp / "b" / "test.jsonl"));
  EXPECT_EQ(read_file(tmp / "a" / "train.jsonl"), read_file(tmp / "b" / "train.jsonl"));
  EXPECT_EQ(read_jsonl_file(tmp / "a" / "test.jsonl").size(), 1u);
  EXPECT_EQ(read_jsonl_file(tmp / "a" / "train.jsonl").size(), 2u);
  EXPECT_NE(test_a.find("\"flag\":true"), std::string::npos) << test_a;
  Json report = read_json_file(tmp / "a" / "split.json");
  EXPECT_EQ(report["groups"]["true"]["test"], 1);
  EXPECT_EQ(report["groups"]["false"]["test"], 0);
  EXPECT_NE(a.output.find("too small to appear in both sets"), std::string::npos) << a.output;
  // The split files are training data as they are.
  auto v = test::run_prefer("data validate --cache_dir " + (tmp / "c").string() + " --data " + (tmp / "a" / "train.jsonl").string() + " --model " + model());
  EXPECT_EQ(v.exit_code, 0) << v.output;

  auto null_topic = test::run_prefer("data split --data " + data + " --stratify_column topic --output_dir " + (tmp / "c").string());
  EXPECT_NE(null_topic.exit_code, 0);
  EXPECT_NE(null_topic.output.find("typed.stream.arrow:2: 'topic': has no value to stratify by"), std::string::npos) << null_topic.output;
}

}  // namespace prefer
