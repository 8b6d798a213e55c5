// prefer data judge end to end against a scripted judge with known answers: the position-swap bookkeeping,
// relabelling, dropping, the report's rates and the sample page.
#include "cli/cli_run.h"
#include "cli/run_files.h"
#include "test_util.h"
#include "util/file.h"
#include "util/json.h"

namespace prefer {

namespace fs = std::filesystem;

namespace {

// "[first]" in the prompt: always A (position bias); "[tie]": C; otherwise the longer answer (C if equal).
void write_pairwise_judge(const fs::path& file) {
  test::write_bytes(file, R"(import readline from "node:readline";
readline.createInterface({ input: process.stdin }).on("line", (l) => {
  const o = JSON.parse(l);
  const p = typeof o.prompt === "string" ? o.prompt : JSON.stringify(o.prompt);
  const a = o.answer_a.length, b = o.answer_b.length;
  console.log(p.includes("[first]") ? "A" : p.includes("[tie]") ? "C" : a > b ? "A" : b > a ? "B" : "C");
});
)");
}

}  // namespace

TEST(DataJudgeE2E, PositionSwapRelabelDropAndSample) {
  test::TempDir tmp;
  write_pairwise_judge(tmp / "judge.mjs");
  // Row 1: chosen longer -> label confirmed. Row 2: chosen shorter -> the judge prefers rejected (both
  // orders). Row 3: [first] -> A twice: inconsistent. Row 4: [tie] -> C twice. Row 5 keeps its own columns.
  test::write_bytes(tmp / "pairs.jsonl",
                    R"({"prompt": "q1", "chosen": "a long answer", "rejected": "short"})" "\n"
                    R"({"prompt": "q2", "chosen": "tiny", "rejected": "a much longer answer"})" "\n"
                    R"({"prompt": "q3 [first]", "chosen": "x", "rejected": "yy"})" "\n"
                    "\n"
                    R"({"prompt": "q4 [tie]", "chosen": "same", "rejected": "also"})" "\n"
                    R"({"prompt": "q5", "chosen": "long enough", "rejected": "no", "topic": "t", "meta": {"generator": "g"}})" "\n");
  const std::string base = "data judge --data " + (tmp / "pairs.jsonl").string() + " --judge 'cmd:node " + (tmp / "judge.mjs").string() +
                           "' --no_judge_cache";
  auto r = test::run_prefer(base + " --output " + (tmp / "all.jsonl").string() + " --sample 5 --seed 1");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::vector<Json> all = test::jsonl_values(tmp / "all.jsonl");
  ASSERT_EQ(all.size(), 5u);
  const char* expected[] = {"chosen", "rejected", "inconsistent", "tie", "chosen"};
  const char* ab[] = {"A", "B", "A", "C", "A"};
  const char* ba[] = {"B", "A", "A", "C", "B"};
  for (size_t i = 0; i < 5; ++i) {
    EXPECT_EQ(all[i]["meta"]["judge"]["agreement"], expected[i]) << i;
    EXPECT_EQ(all[i]["meta"]["judge"]["verdict_ab"], ab[i]) << i;
    EXPECT_EQ(all[i]["meta"]["judge"]["verdict_ba"], ba[i]) << i;
    EXPECT_EQ(all[i]["meta"]["judge"]["relabeled"], false);
  }
  EXPECT_EQ(all[4]["topic"], "t");
  EXPECT_EQ(all[4]["meta"]["generator"], "g") << "the row's own meta is kept";
  const Json report = read_json_file(tmp / "all.jsonl.report.json");
  EXPECT_EQ(report["agreement"]["chosen"], 2);
  EXPECT_EQ(report["agreement"]["rejected"], 1);
  EXPECT_DOUBLE_EQ(report["rates"]["agree_with_label"].get<double>(), 0.4);
  EXPECT_DOUBLE_EQ(report["self_consistency"].get<double>(), 0.8);
  EXPECT_EQ(report["sample"], 2) << "rows 2 and 3 disagree";
  const std::string html = read_file(tmp / "all.jsonl.sample.html");
  EXPECT_NE(html.find("a much longer answer"), std::string::npos);
  EXPECT_NE(html.find("q3 [first]"), std::string::npos);
  EXPECT_EQ(html.find(">q1<"), std::string::npos);

  auto f = test::run_prefer(base + " --relabel --drop_inconsistent --output " + (tmp / "fixed.jsonl").string());
  ASSERT_EQ(f.exit_code, 0) << f.output;
  const std::vector<Json> fixed = test::jsonl_values(tmp / "fixed.jsonl");
  ASSERT_EQ(fixed.size(), 3u);
  EXPECT_EQ(fixed[1]["chosen"], "a much longer answer");
  EXPECT_EQ(fixed[1]["rejected"], "tiny");
  EXPECT_EQ(fixed[1]["meta"]["judge"]["relabeled"], true);
  const Json fr = read_json_file(tmp / "fixed.jsonl.report.json");
  EXPECT_EQ(fr["relabeled"], 1);
  EXPECT_EQ(fr["dropped"], 2);

  // Errors: no judge; KTO rows.
  auto nj = test::run_prefer("data judge --data " + (tmp / "pairs.jsonl").string() + " --output " + (tmp / "x.jsonl").string());
  EXPECT_NE(nj.exit_code, 0);
  EXPECT_NE(nj.output.find("'judge'"), std::string::npos) << nj.output;
  test::write_bytes(tmp / "kto.jsonl", R"({"prompt": "p", "completion": "c", "label": true})" "\n");
  auto k = test::run_prefer("data judge --data " + (tmp / "kto.jsonl").string() + " --judge cmd:true --output " + (tmp / "x.jsonl").string());
  EXPECT_NE(k.exit_code, 0);
  EXPECT_NE(k.output.find("prefer data pair"), std::string::npos) << k.output;
  EXPECT_FALSE(fs::exists(tmp / "x.jsonl"));
}

}  // namespace prefer
