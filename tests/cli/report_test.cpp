// report.html in a real browser (Debian's headless Chromium through puppeteer-core: tools/reference/
// report_check.mjs) and TensorBoard's event files through a reader written from the format's
// specification (tools/reference/tfevents.mjs), both on a short DPO run with eval and warnings.
#include <cmath>
#include <cstdlib>
#include <fstream>

#include "cli/cli_run.h"
#include "cli/run_files.h"
#include "node_json.h"
#include "test_util.h"
#include "util/json.h"

namespace prefer {
namespace fs = std::filesystem;

namespace {

Json node_json(const std::string& script, const std::string& args, const fs::path& tmp) {
  return test::run_node_json(test::reference_dir(), script, args, tmp);
}

void require_node_packages() {
  for (const char* p : {"puppeteer-core", "pngjs"})
    ASSERT_TRUE(fs::exists(test::reference_dir() / "node_modules" / p / "package.json")) << p << ": run scripts/setup.sh (npm ci in tools/reference)";
  ASSERT_TRUE(fs::exists("/usr/bin/chromium") || std::getenv("CHROMIUM")) << "Debian's chromium: run scripts/setup.sh";
}

const Json* chart(const Json& r, const std::string& title) {
  for (const Json& c : r["charts"])
    if (c["title"] == title) return &c;
  return nullptr;
}

std::string dpo_args(const test::TempDir& tmp, const std::string& out, double beta) {
  return "dpo --threads 1 --model " + test::fixture("models/llama-tiny").string() + " --data " + (tmp / "p.jsonl").string() + " --cache_dir " +
         (tmp / "cache").string() + " --per_device_train_batch_size 4 --learning_rate 1e-3 --logging_steps 1 --eval_split 0.25 --eval_steps 2"
         " --use_peft --lora_r 4 --seed 5 --max_steps 6 --beta " + std::to_string(beta) + " --output_dir " + (tmp / out).string();
}

}  // namespace

TEST(ReportE2E, TrainingEndsWithAReportThatChromiumRendersAndTensorBoardFilesReadBack) {
  require_node_packages();
  test::TempDir tmp;
  test::write_prefs(tmp / "p.jsonl", 24);
  auto r = test::run_prefer(dpo_args(tmp, "run", 0.1));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const fs::path run = tmp / "run";
  ASSERT_TRUE(fs::exists(run / "report.html")) << r.output;
  const size_t warnings = read_jsonl_file(run / "warnings.jsonl").size();
  ASSERT_GT(warnings, 0u) << "the fixture run is expected to fire at least a pre-flight warning (no chat template)";

  const Json b = node_json("report_check.mjs", "'" + (run / "report.html").string() + "' '" + (tmp / "report.png").string() + "'", tmp.path());
  EXPECT_TRUE(b["errors"].empty()) << b["errors"].dump();
  EXPECT_TRUE(b["external"].empty()) << b["external"].dump();
  EXPECT_TRUE(fs::exists(tmp / "report.png") && fs::file_size(tmp / "report.png") > 10000);
  ASSERT_GE(b["charts"].size(), 7u) << b.dump();
  for (const Json& c : b["charts"]) {
    EXPECT_EQ(c["drawn"], c["declared"]) << c.dump();
    EXPECT_GT(c["ink"].get<double>(), 0.002) << "blank plot area: " << c.dump();
    EXPECT_EQ(c["marks"].get<size_t>(), warnings) << c.dump();
  }
  // Train and eval overlaid where both are logged; two sides where the metric has two.
  ASSERT_NE(chart(b, "Loss"), nullptr);
  EXPECT_EQ((*chart(b, "Loss"))["declared"], 2) << chart(b, "Loss")->dump();
  ASSERT_NE(chart(b, "Rewards (chosen, rejected)"), nullptr);
  EXPECT_EQ((*chart(b, "Rewards (chosen, rejected)"))["declared"], 4);
  ASSERT_NE(chart(b, "Learning rate"), nullptr);
  EXPECT_EQ((*chart(b, "Learning rate"))["declared"], 1);

  // Every scalar of metrics.jsonl is in the event file, as float32, at its step, under TensorBoard's tag.
  fs::path events;
  for (const auto& e : fs::directory_iterator(run))
    if (e.path().filename().string().rfind("events.out.tfevents.", 0) == 0) events = e.path();
  ASSERT_FALSE(events.empty());
  const Json tb = node_json("tfevents.mjs", "'" + events.string() + "'", tmp.path());
  EXPECT_EQ(tb["file_version"], "brain.Event:2");
  std::map<std::pair<int64_t, std::string>, double> seen;
  for (const Json& s : tb["scalars"]) seen[{s["step"].get<int64_t>(), s["tag"].get<std::string>()}] = s["value"].is_number() ? s["value"].get<double>() : NAN;
  size_t compared = 0;
  for (const auto& rec : read_jsonl_file(run / "metrics.jsonl")) {
    const int64_t step = rec.value["step"];
    for (auto it = rec.value.begin(); it != rec.value.end(); ++it) {
      if (it.key() == "step" || !(it.value().is_number() || it.value().is_null())) continue;
      const std::string tag = it.key().rfind("eval_", 0) == 0 ? "eval/" + it.key().substr(5) : "train/" + it.key();
      auto f = seen.find({step, tag});
      ASSERT_NE(f, seen.end()) << tag << " at step " << step;
      if (it.value().is_null()) EXPECT_TRUE(std::isnan(f->second)) << tag;
      else EXPECT_EQ(f->second, static_cast<double>(static_cast<float>(it.value().get<double>()))) << tag << " at step " << step;
      ++compared;
    }
  }
  EXPECT_EQ(compared, tb["scalars"].size());  // nothing else in the file (an eval row repeats its step's train/epoch)
  EXPECT_GT(compared, 60u);

  // Side by side (a beta sweep), and a run that is still going: a half-written metrics line is left out.
  r = test::run_prefer(dpo_args(tmp, "run2", 0.5));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  fs::copy(run, tmp / "going", fs::copy_options::recursive);
  fs::remove_all(tmp / "going" / "final");
  { std::ofstream(tmp / "going" / "metrics.jsonl", std::ios::app) << "{\"loss\": 0.6"; }
  r = test::run_prefer("report " + run.string() + " " + (tmp / "run2").string() + " " + (tmp / "going").string() + " --output " + (tmp / "all.html").string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const Json s = node_json("report_check.mjs", "'" + (tmp / "all.html").string() + "' '" + (tmp / "all.png").string() + "'", tmp.path());
  EXPECT_TRUE(s["errors"].empty()) << s["errors"].dump();
  ASSERT_NE(chart(s, "Loss"), nullptr);
  EXPECT_EQ((*chart(s, "Loss"))["declared"], 6);
  std::ifstream in(tmp / "all.html");
  const std::string html((std::istreambuf_iterator<char>(in)), {});
  EXPECT_NE(html.find("not finished (interrupted or still running)"), std::string::npos);
  EXPECT_NE(html.find("Healthy-run checks"), std::string::npos);
  // The data as read (24 pairs, eval_split 0.25), the memory estimate and the measured peak.
  EXPECT_NE(html.find("<td>18 / 6</td>"), std::string::npos);
  // The validator's report of the training file: 24 pairs, fewer than its 1,000-pair minimum.
  EXPECT_NE(html.find("24 records, 24 valid, 0 errors"), std::string::npos);
  EXPECT_NE(html.find("<code>count</code>"), std::string::npos);
  EXPECT_NE(html.find("total "), std::string::npos);
  EXPECT_TRUE(read_json_file(run / "run.json").value("peak_rss_bytes", 0) > 0);

  // Not a run folder: named.
  r = test::run_prefer("report " + (tmp / "cache").string());
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("not a run folder"), std::string::npos) << r.output;
  r = test::run_prefer("report " + run.string() + " " + (tmp / "run2").string());
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("--output"), std::string::npos) << r.output;
}

}  // namespace prefer
