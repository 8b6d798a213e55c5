#include <cmath>
#include <cstring>
#include <fstream>

#include "cli/cli_run.h"
#include "cli/run_files.h"
#include "test_util.h"
#include "io/safetensors.h"
#include "util/json.h"

#include <limits>

namespace prefer {
namespace fs = std::filesystem;

namespace {

std::string common(const test::TempDir& tmp) {
  return " --threads 1 --model " + test::fixture("models/llama-tiny").string() + " --data " + (tmp / "p.jsonl").string() +
         " --cache_dir " + (tmp / "cache").string() + " --per_device_train_batch_size 4 --learning_rate 1e-3 --logging_steps 2"
         " --use_peft --lora_r 4 --lora_dropout 0.1 --seed 5";
}

// Full fine-tuning on 8 pairs (written to tmp/p.jsonl), `steps` steps, a metrics row each.
std::string full_fine_tuning(const test::TempDir& tmp, int steps) {
  test::write_prefs(tmp / "p.jsonl", 8);
  return " --threads 1 --model " + test::fixture("models/llama-tiny").string() + " --data " + (tmp / "p.jsonl").string() +
         " --cache_dir " + (tmp / "cache").string() + " --per_device_train_batch_size 4 --learning_rate 1e-4 --logging_steps 1 --max_steps " +
         std::to_string(steps);
}

}  // namespace

TEST(DpoE2E, RunFolderAndConfigRoundTrip) {
  test::TempDir tmp;
  test::write_prefs(tmp / "p.jsonl", 16);
  auto r = test::run_prefer("dpo" + common(tmp) + " --max_steps 4 --output_dir " + (tmp / "run").string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(fs::exists(tmp / "run" / "config.yaml"));
  EXPECT_TRUE(fs::exists(tmp / "run" / "final" / "adapter_model.safetensors"));
  EXPECT_TRUE(fs::exists(tmp / "run" / "final" / "adapter_config.json"));
  EXPECT_TRUE(fs::exists(tmp / "run" / "final" / "tokenizer.json"));
  auto rows = test::metrics_rows(tmp / "run");
  ASSERT_EQ(rows.size(), 2u);
  for (const char* k : {"loss", "rewards/chosen", "rewards/rejected", "rewards/accuracies", "rewards/margins", "logps/chosen",
                        "logps/rejected", "logits/chosen", "logits/rejected", "grad_norm", "learning_rate", "epoch", "step", "num_tokens"})
    EXPECT_TRUE(rows[0].contains(k)) << k;
  // The resolved config re-runs the same experiment.
  auto again = test::run_prefer("dpo --threads 1 --config " + (tmp / "run" / "config.yaml").string() + " --output_dir " + (tmp / "run2").string());
  ASSERT_EQ(again.exit_code, 0) << again.output;
  EXPECT_EQ(test::metrics_rows(tmp / "run2"), rows);
  // data.json holds the validator's report of the training file (16 records).
  const Json v = read_json_file(tmp / "run" / "data.json").at("validation");
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].value("records", 0), 16);
}

TEST(DpoE2E, ValidateDataFalseSkipsTheValidatorAndSaysSo) {
  test::TempDir tmp;
  test::write_prefs(tmp / "p.jsonl", 8);
  auto r = test::run_prefer("dpo" + common(tmp) + " --max_steps 1 --validate_data false --output_dir " + (tmp / "run").string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const Json v = read_json_file(tmp / "run" / "data.json").at("validation");
  ASSERT_EQ(v.size(), 1u);
  EXPECT_FALSE(v[0].contains("records"));
  EXPECT_EQ(v[0].value("not_validated", ""), "skipped (--validate_data false)");
  EXPECT_EQ(v[0].value("file", ""), (tmp / "p.jsonl").string());
}

TEST(DpoE2E, BadOptionsAreErrorsBeforeAnyWork) {
  test::TempDir tmp;
  test::write_prefs(tmp / "p.jsonl", 4);
  test::write_bytes(tmp / "c.yaml", "lerning_rate: 1e-5\n");
  auto r = test::run_prefer("dpo" + common(tmp) + " --config " + (tmp / "c.yaml").string() + " --output_dir " + (tmp / "run").string());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("'lerning_rate': unknown option (hint: did you mean 'learning_rate'?)"), std::string::npos) << r.output;
  auto b = test::run_prefer("dpo" + common(tmp) + " --beta 0 --output_dir " + (tmp / "run").string());
  EXPECT_EQ(b.exit_code, 1);
  EXPECT_NE(b.output.find("'beta'"), std::string::npos) << b.output;
  auto l = test::run_prefer("dpo" + common(tmp) + " --loss_type sigmod --output_dir " + (tmp / "run").string());
  EXPECT_EQ(l.exit_code, 1);
  EXPECT_NE(l.output.find("did you mean 'sigmoid'"), std::string::npos) << l.output;
  EXPECT_FALSE(fs::exists(tmp / "run" / "final"));
}

TEST(DpoE2E, KilledRunResumesToTheSameMetrics) {
  test::TempDir tmp;
  test::write_prefs(tmp / "p.jsonl", 32);
  const std::string args = common(tmp) + " --max_steps 40 --save_steps 8";
  auto ref = test::run_prefer("dpo" + args + " --output_dir " + (tmp / "whole").string());
  ASSERT_EQ(ref.exit_code, 0) << ref.output;

  // Start the same run, SIGKILL it once checkpoint-16 is complete, then resume from the latest checkpoint.
  const fs::path run = tmp / "killed";
  ASSERT_TRUE(test::kill_when_written("dpo" + args + " --output_dir " + run.string(), run / "checkpoint-16" / "trainer_state.json"))
      << "the run never wrote checkpoint-16";
  ASSERT_FALSE(fs::exists(run / "final")) << "the run finished before it could be killed";
  auto resumed = test::run_prefer("dpo" + args + " --output_dir " + run.string() + " --resume_from_checkpoint latest");
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_EQ(test::metrics_rows(run), test::metrics_rows(tmp / "whole"));
  EXPECT_TRUE(fs::exists(run / "final" / "adapter_model.safetensors"));
}

}  // namespace prefer

namespace prefer {

TEST(DpoE2E, NonFiniteLossStopsWithTheExampleLines) {
  // A model folder whose final norm holds a NaN: the first loss is NaN.
  test::TempDir tmp;
  test::write_prefs(tmp / "p.jsonl", 8);
  fs::copy(test::fixture("models/llama-tiny"), tmp / "m", fs::copy_options::recursive);
  {
    io::SafetensorsFile st(tmp / "m" / "model.safetensors");
    uint64_t header = 0;
    std::ifstream in(tmp / "m" / "model.safetensors", std::ios::binary);
    in.read(reinterpret_cast<char*>(&header), 8);
    uint64_t at = 8 + header + st.find("model.norm.weight")->begin;
    std::fstream f(tmp / "m" / "model.safetensors", std::ios::binary | std::ios::in | std::ios::out);
    f.seekp(static_cast<std::streamoff>(at));
    const float nan = std::numeric_limits<float>::quiet_NaN();
    f.write(reinterpret_cast<const char*>(&nan), 4);
  }
  auto r = test::run_prefer("dpo --threads 1 --model " + (tmp / "m").string() + " --data " + (tmp / "p.jsonl").string() +
                            " --cache_dir " + (tmp / "cache").string() + " --use_peft --max_steps 3 --per_device_train_batch_size 4"
                            " --output_dir " + (tmp / "run").string());
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("the loss became NaN at step 1"), std::string::npos) << r.output;
  ASSERT_TRUE(fs::exists(tmp / "run" / "nonfinite_batch.json"));
  Json bad = read_json_file(tmp / "run" / "nonfinite_batch.json");
  EXPECT_EQ(bad["lines"].size(), 4u);
  EXPECT_FALSE(fs::exists(tmp / "run" / "final"));
}

TEST(DpoE2E, PrecomputedReferenceGivesTheSameRunAsTheLiveOne) {
  // Full fine-tuning: a live frozen copy as the reference, or its log-probs computed once and cached.
  test::TempDir tmp;
  const std::string full = full_fine_tuning(tmp, 3);
  auto live = test::run_prefer("dpo" + full + " --precompute_ref_log_probs false --output_dir " + (tmp / "live").string());
  ASSERT_EQ(live.exit_code, 0) << live.output;
  auto cached = test::run_prefer("dpo" + full + " --precompute_ref_log_probs --output_dir " + (tmp / "cached").string());
  ASSERT_EQ(cached.exit_code, 0) << cached.output;
  EXPECT_NE(cached.output.find("computed and cached"), std::string::npos) << cached.output;
  auto again = test::run_prefer("dpo" + full + " --precompute_ref_log_probs --output_dir " + (tmp / "again").string());
  EXPECT_NE(again.output.find("read from the cache"), std::string::npos) << again.output;
  auto a = read_jsonl_file(tmp / "live" / "metrics.jsonl"), b = read_jsonl_file(tmp / "cached" / "metrics.jsonl");
  ASSERT_EQ(a.size(), b.size());
  // To float32 rounding: padding-free rows place a pair differently in the precompute pass's batches than
  // in the training batches, so its tokens meet the kernels at other offsets (measured 1.5e-8 relative).
  for (size_t i = 0; i < a.size(); ++i)
    for (const char* k : {"loss", "rewards/margins", "rewards/chosen", "logps/rejected"}) {
      const double x = a[i].value[k].get<double>();
      EXPECT_NEAR(x, b[i].value[k].get<double>(), 1e-6 * std::max(1.0, std::abs(x))) << k << " at row " << i;
    }
  EXPECT_TRUE(fs::exists(tmp / "cached" / "final" / "model.safetensors"));
}

TEST(DpoE2E, Bf16ReferencePassStaysWithinBf16RoundingOfTheFloat32One) {
  // --precompute_ref_dtype bfloat16 for a float32 policy: the table comes from a bf16 (mixed) copy of the
  // starting weights, cached under its own key; near the float32 table, but not equal to it, so step 1's
  // loss moves off ln 2 by what bf16 rounding leaves.
  test::TempDir tmp;
  const std::string full = full_fine_tuning(tmp, 2);
  auto tables = [&] {
    std::vector<fs::path> v;
    for (const auto& e : fs::directory_iterator(tmp / "cache" / "refs")) v.push_back(e.path());
    return v;
  };
  auto f = test::run_prefer("dpo" + full + " --output_dir " + (tmp / "f").string());
  ASSERT_EQ(f.exit_code, 0) << f.output;
  const std::vector<fs::path> one = tables();
  ASSERT_EQ(one.size(), 1u);
  auto b = test::run_prefer("dpo" + full + " --precompute_ref_dtype bfloat16 --output_dir " + (tmp / "b").string());
  ASSERT_EQ(b.exit_code, 0) << b.output;
  EXPECT_NE(b.output.find("computed and cached"), std::string::npos) << b.output;  // not the float32 table
  std::vector<fs::path> two = tables();
  ASSERT_EQ(two.size(), 2u);
  const fs::path bf = two[0] == one[0] ? two[1] : two[0];
  auto read = [](const fs::path& file, const char* name) {
    io::SafetensorsFile st(file);
    io::TensorView v = st.view(name);
    std::vector<double> out(v.info->shape[0]);
    std::memcpy(out.data(), v.data, v.nbytes);
    return out;
  };
  for (const char* name : {"ref_chosen_logps", "ref_rejected_logps"}) {
    std::vector<double> x = read(one[0], name), y = read(bf, name);
    ASSERT_EQ(x.size(), y.size());
    double worst = 0;
    for (size_t i = 0; i < x.size(); ++i) {
      // bf16 rounds every GEMM input to 8 significant bits (2^-9 relative); the errors of the tokens'
      // log-probs partly cancel in the sum, which stays within one such rounding of the float32 sum
      // (measured: 5e-3 on sums of -59 and 7e-3 on -251, about 1e-4 relative).
      EXPECT_NEAR(y[i], x[i], std::ldexp(std::abs(x[i]), -9)) << name << " " << i;
      worst = std::max(worst, std::abs(y[i] - x[i]));
    }
    EXPECT_GT(worst, 0.0) << name << ": the bf16 pass gave the float32 table";
  }
  auto mf = read_jsonl_file(tmp / "f" / "metrics.jsonl"), mb = read_jsonl_file(tmp / "b" / "metrics.jsonl");
  ASSERT_FALSE(mf.empty());
  ASSERT_FALSE(mb.empty());
  EXPECT_NEAR(mf[0].value["loss"].get<double>(), std::log(2.0), 1e-6);
  EXPECT_NE(mb[0].value["loss"].get<double>(), mf[0].value["loss"].get<double>());
  EXPECT_NEAR(mb[0].value["loss"].get<double>(), std::log(2.0), 1e-3);  // measured 9e-5 off

  auto live = test::run_prefer("dpo" + full + " --precompute_ref_dtype bfloat16 --precompute_ref_log_probs false --output_dir " +
                               (tmp / "live").string());
  EXPECT_EQ(live.exit_code, 1);
  EXPECT_NE(live.output.find("'precompute_ref_dtype'"), std::string::npos) << live.output;
  auto bad = test::run_prefer("dpo" + full + " --precompute_ref_dtype fp16 --output_dir " + (tmp / "bad").string());
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.output.find("must be auto, float32 or bfloat16, not 'fp16'"), std::string::npos) << bad.output;
  EXPECT_FALSE(fs::exists(tmp / "live"));  // refused before the run folder is made
  EXPECT_FALSE(fs::exists(tmp / "bad"));
}

}  // namespace prefer
