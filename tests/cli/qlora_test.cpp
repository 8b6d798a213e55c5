// QLoRA end to end: `prefer dpo` on a 4-bit base learns and resumes exactly, `prefer plan` prints the
// plan and picks batch sizes, a run that cannot fit stops before loading, and the inference commands
// take the same flags.
#include "cli/cli_run.h"
#include "cli/run_files.h"
#include "test_util.h"
#include "util/json.h"

namespace prefer {
namespace fs = std::filesystem;

namespace {

std::string qlora(const test::TempDir& tmp) {
  return " --threads 1 --model " + test::fixture("models/llama-tiny").string() + " --data " + (tmp / "p.jsonl").string() +
         " --cache_dir " + (tmp / "cache").string() + " --per_device_train_batch_size 4 --learning_rate 1e-2 --logging_steps 4"
         " --use_peft --lora_r 4 --lora_target_modules all-linear --lora_dropout 0.1 --seed 5 --load_in_4bit"
         " --bnb_4bit_use_double_quant --gradient_checkpointing";
}

}  // namespace

TEST(QloraE2E, FourBitDpoLearnsAndResumesExactly) {
  test::TempDir tmp;
  test::write_prefs(tmp / "p.jsonl", 16);
  const std::string args = qlora(tmp) + " --max_steps 16 --save_steps 8";
  auto whole = test::run_prefer("dpo" + args + " --output_dir " + (tmp / "whole").string());
  ASSERT_EQ(whole.exit_code, 0) << whole.output;
  auto rows = test::metrics_rows(tmp / "whole");
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_GT(rows.back()["rewards/margins"].get<double>(), rows.front()["rewards/margins"].get<double>() + 0.05);
  EXPECT_GT(rows.back()["rewards/margins"].get<double>(), 0.1);

  // Stopped after checkpoint-8 (max_steps 8 of the same schedule is not the same run: resume instead
  // from the whole run's own checkpoint-8 in a copy).
  const fs::path run = tmp / "resumed";
  fs::create_directories(run);
  fs::copy(tmp / "whole" / "checkpoint-8", run / "checkpoint-8", fs::copy_options::recursive);
  for (const char* f : {"config.yaml"})
    if (fs::exists(tmp / "whole" / f)) fs::copy_file(tmp / "whole" / f, run / f);
  auto resumed = test::run_prefer("dpo" + args + " --output_dir " + run.string() + " --resume_from_checkpoint " +
                                  (run / "checkpoint-8").string());
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  auto tail = test::metrics_rows(run);
  ASSERT_GE(tail.size(), 2u);
  EXPECT_EQ(tail.back(), rows.back());
  EXPECT_EQ(tail[tail.size() - 2], rows[2]);
}

TEST(QloraE2E, PlanPrintsTheTableAndPicksTheBatch) {
  test::TempDir tmp;
  test::write_prefs(tmp / "p.jsonl", 4);
  const std::string args = qlora(tmp) + " --output_dir " + (tmp / "run").string();
  auto plan = test::run_prefer("plan dpo" + args);
  ASSERT_EQ(plan.exit_code, 0) << plan.output;
  for (const char* row : {"weights", "adapters", "optimizer", "gradients", "activations", "logits", "reference", "dequantized layer",
                          "runtime", "predicted peak", "4-bit nf4 + double quant"})
    EXPECT_NE(plan.output.find(row), std::string::npos) << row << "\n" << plan.output;
  EXPECT_FALSE(fs::exists(tmp / "run"));  // a plan writes nothing

  // Effective batch 4 x 4 = 16 under a limit that fits only a smaller micro-batch: read the plan's
  // predicted peaks for micro-batches 16 and 1, and set the limit between them.
  auto peak = [&](int b) {
    auto r = test::run_prefer("plan dpo" + args + " --per_device_train_batch_size " + std::to_string(b) + " --max_length 1024");
    std::string rest = r.output.substr(r.output.find("predicted peak") + 14);
    size_t used = 0;
    const double v = std::stod(rest, &used);
    const std::string unit = rest.substr(used + 1, 2);
    return v * (unit == "GB" ? 1000.0 : unit == "KB" ? 0.001 : 1.0);  // MB
  };
  const double p16 = peak(16), p1 = peak(1);
  ASSERT_GT(p16, p1);
  const long limit_mb = static_cast<long>((p1 + p16) / 2);
  auto picked = test::run_prefer("plan dpo" + args + " --per_device_train_batch_size 4 --gradient_accumulation_steps 4 --max_length 1024"
                                 " --auto_batch_size --max_memory " + std::to_string(limit_mb) + "MB");
  ASSERT_EQ(picked.exit_code, 0) << picked.output;
  EXPECT_NE(picked.output.find("auto_batch_size: micro-batch"), std::string::npos) << picked.output;
  EXPECT_EQ(picked.output.find("micro-batch 16 x 1"), std::string::npos) << picked.output;
}

TEST(QloraE2E, RunThatCannotFitStopsBeforeLoading) {
  test::TempDir tmp;
  test::write_prefs(tmp / "p.jsonl", 4);
  auto r = test::run_prefer("dpo" + qlora(tmp) + " --max_memory 10MB --output_dir " + (tmp / "run").string());
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("predicted peak"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("max_memory"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(tmp / "run" / "final"));
  test::write_bytes(tmp / "t.jsonl", "{\"text\": \"The sky is blue.\"}\n");
  auto f = test::run_prefer("sft --threads 1 --model " + test::fixture("models/llama-tiny").string() + " --data " + (tmp / "t.jsonl").string() +
                            " --load_in_4bit --output_dir " + (tmp / "sft").string());
  EXPECT_EQ(f.exit_code, 1);
  EXPECT_NE(f.output.find("'load_in_4bit'"), std::string::npos) << f.output;
  EXPECT_NE(f.output.find("--use_peft"), std::string::npos) << f.output;
}

TEST(QloraE2E, GenerateOnAFourBitModel) {
  test::TempDir tmp;
  test::write_bytes(tmp / "q.jsonl", "{\"prompt\": \"Describe the sky briefly.\"}\n");
  auto r = test::run_prefer("generate --threads 1 --model " + test::fixture("models/llama-tiny").string() + " --data " +
                            (tmp / "q.jsonl").string() + " --output " + (tmp / "out.jsonl").string() +
                            " --max_new_tokens 4 --load_in_4bit --bnb_4bit_quant_type fp4");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(read_jsonl_file(tmp / "out.jsonl").front().value["completion_ids"].size(), 4u);
}

}  // namespace prefer
