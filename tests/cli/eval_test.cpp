#include <cmath>

#include "cli/cli_run.h"
#include "cli/run_files.h"
#include "cli/serve_process.h"
#include "test_util.h"
#include "util/file.h"
#include "util/json.h"

namespace prefer {

namespace fs = std::filesystem;

namespace {

std::string fixture_model(const char* name) { return test::fixture(std::string("models/") + name).string(); }

// A scripted judge with known rules: a prompt holding "[tie]" gets C, one holding "[first]" gets A
// whatever the order (position bias: inconsistent, so a tie), any other the longer answer in UTF-8
// bytes (C when equal). Single grading: 1 + (the answer's UTF-8 bytes mod 10).
void write_eval_judge(const fs::path& file) {
  test::write_bytes(file, R"(import readline from "node:readline";
readline.createInterface({ input: process.stdin }).on("line", (l) => {
  const o = JSON.parse(l);
  if (o.answer !== undefined) return console.log(1 + (Buffer.byteLength(o.answer) % 10));
  const a = Buffer.byteLength(o.answer_a), b = Buffer.byteLength(o.answer_b);
  const p = typeof o.prompt === "string" ? o.prompt : JSON.stringify(o.prompt);
  console.log(p.includes("[tie]") ? "C" : p.includes("[first]") ? "A" : a > b ? "A" : b > a ? "B" : "C");
});
)");
}

}  // namespace

TEST(EvalE2E, ScriptedJudgeBookkeepingCacheAndSamples) {
  test::TempDir tmp;
  write_eval_judge(tmp / "judge.mjs");
  test::write_bytes(tmp / "prompts.jsonl",
                    R"({"prompt": "Why is the sky blue? [tie]"})" "\n" R"({"prompt": "Name a fruit. [first]"})" "\n"
                    R"({"prompt": "Write <b>bold</b> & more"})" "\n" R"({"prompt": "Tell me about cats"})" "\n"
                    R"({"prompt": "Count to three"})" "\n" R"({"prompt": "What is 2 + 2?"})" "\n");
  const std::string args = "eval --threads 1 --model " + fixture_model("llama-tiny") + " --reference " + fixture_model("qwen2-tiny") +
                           " --prompts " + (tmp / "prompts.jsonl").string() + " --judge 'cmd:node " + (tmp / "judge.mjs").string() +
                           "' --max_new_tokens 8 --inspect 3 --output_dir " + (tmp / "out").string();
  const std::string env = "PREFER_CACHE_DIR=" + (tmp / "cache").string() + " ";
  auto r = test::run_prefer_env(env, args);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  Json e = read_json_file(tmp / "out" / "eval.json");
  auto samples = read_jsonl_file(tmp / "out" / "samples.jsonl");
  ASSERT_EQ(samples.size(), 6u);
  int wins = 0, ties = 0, losses = 0;
  double len_m = 0, len_r = 0;
  for (size_t i = 0; i < samples.size(); ++i) {
    const Json& s = samples[i].value;
    const std::string p = s["prompt"].get<std::string>();
    const size_t m = s["completion_model"].get<std::string>().size(), ref = s["completion_reference"].get<std::string>().size();
    len_m += static_cast<double>(m) / 6;
    len_r += static_cast<double>(ref) / 6;
    std::string expected = "tie";
    if (p.find("[tie]") != std::string::npos) {
      EXPECT_EQ(s["verdict_ab"], "C");
    } else if (p.find("[first]") != std::string::npos) {
      EXPECT_EQ(s["verdict_ab"], "A");
      EXPECT_EQ(s["verdict_ba"], "A");
    } else if (m > ref) {
      expected = "win";
      EXPECT_EQ(s["verdict_ab"], "A");
      EXPECT_EQ(s["verdict_ba"], "B");
    } else if (m < ref) {
      expected = "loss";
    }
    EXPECT_EQ(s["outcome"], expected) << i;
    wins += expected == "win", ties += expected == "tie", losses += expected == "loss";
  }
  EXPECT_EQ(e["judged"], 6);
  EXPECT_EQ(e["judge_errors"], 0);
  EXPECT_DOUBLE_EQ(e["win_rate"].get<double>(), wins / 6.0);
  EXPECT_DOUBLE_EQ(e["tie_rate"].get<double>(), ties / 6.0);
  EXPECT_DOUBLE_EQ(e["loss_rate"].get<double>(), losses / 6.0);
  EXPECT_NEAR(e["win_rate"].get<double>() + e["tie_rate"].get<double>() + e["loss_rate"].get<double>(), 1.0, 1e-12);
  EXPECT_DOUBLE_EQ(e["adjusted_win_rate"].get<double>(), (wins + 0.5 * ties) / 6.0);
  const double z = 1.959963984540054, n = 6, p = wins / 6.0;
  const double center = (p + z * z / (2 * n)) / (1 + z * z / n), half = z / (1 + z * z / n) * std::sqrt(p * (1 - p) / n + z * z / (4 * n * n));
  EXPECT_NEAR(e["win_rate_ci"][0].get<double>(), std::max(0.0, center - half), 1e-12);
  EXPECT_NEAR(e["win_rate_ci"][1].get<double>(), std::min(1.0, center + half), 1e-12);
  EXPECT_NEAR(e["mean_length_model"].get<double>(), len_m, 1e-9);
  EXPECT_NEAR(e["mean_length_reference"].get<double>(), len_r, 1e-9);
  EXPECT_GE(e["length_controlled_win_rate"].get<double>(), 0.0);
  EXPECT_LE(e["length_controlled_win_rate"].get<double>(), 1.0);
  EXPECT_EQ(e["judge_cache_hits"], 0);
  EXPECT_EQ(e["settings"]["judge"], "cmd:node " + (tmp / "judge.mjs").string());
  EXPECT_TRUE(e["data"].contains((tmp / "prompts.jsonl").string()));
  // The page for a person: escaped text, three rows.
  const std::string html = read_file(tmp / "out" / "samples.html");
  EXPECT_NE(html.find("Write &lt;b&gt;bold&lt;/b&gt; &amp; more"), std::string::npos);
  size_t rows = 0;
  for (size_t at = html.find("<tr class="); at != std::string::npos; at = html.find("<tr class=", at + 1)) ++rows;
  EXPECT_EQ(rows, 3u);
  EXPECT_NE(r.output.find("win / tie / loss"), std::string::npos) << r.output;

  // A re-run asks the judge nothing: every verdict comes from the cache, with the same numbers.
  auto again = test::run_prefer_env(env, args);
  ASSERT_EQ(again.exit_code, 0) << again.output;
  Json e2 = read_json_file(tmp / "out" / "eval.json");
  EXPECT_EQ(e2["judge_cache_hits"], 12);
  EXPECT_EQ(e2["win_rate"], e["win_rate"]);
  auto fresh = test::run_prefer_env(env, args + " --no_judge_cache");
  ASSERT_EQ(fresh.exit_code, 0) << fresh.output;
  EXPECT_EQ(read_json_file(tmp / "out" / "eval.json")["judge_cache_hits"], 0);
}

TEST(EvalE2E, SingleAnswerGradesBesideThePairwiseVerdicts) {
  test::TempDir tmp;
  write_eval_judge(tmp / "judge.mjs");
  test::write_bytes(tmp / "prompts.jsonl", R"({"prompt": "Tell me about cats"})" "\n" R"({"prompt": "Count to three"})" "\n");
  auto r = test::run_prefer("eval --threads 1 --model " + fixture_model("llama-tiny") + " --reference " + fixture_model("qwen2-tiny") +
                            " --prompts " + (tmp / "prompts.jsonl").string() + " --judge 'cmd:node " + (tmp / "judge.mjs").string() +
                            "' --judge_mode single --no_judge_cache --max_new_tokens 8 --output_dir " + (tmp / "out").string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  Json e = read_json_file(tmp / "out" / "eval.json");
  double sm = 0, sr = 0;
  for (const auto& row : read_jsonl_file(tmp / "out" / "samples.jsonl")) {
    const Json& v = row.value;
    const double m = 1 + static_cast<double>(v["completion_model"].get<std::string>().size() % 10);
    const double ref = 1 + static_cast<double>(v["completion_reference"].get<std::string>().size() % 10);
    EXPECT_EQ(v["score_model"].get<double>(), m);
    EXPECT_EQ(v["score_reference"].get<double>(), ref);
    sm += m / 2, sr += ref / 2;
  }
  EXPECT_DOUBLE_EQ(e["single_score_model"].get<double>(), sm);
  EXPECT_DOUBLE_EQ(e["single_score_reference"].get<double>(), sr);
  EXPECT_EQ(e["single_grade_errors"], 0);
  EXPECT_EQ(e["judged"], 2);
  auto rm = test::run_prefer("eval --model " + fixture_model("llama-tiny") + " --reference " + fixture_model("llama-tiny") + " --prompts " +
                             (tmp / "prompts.jsonl").string() + " --judge rm:" + fixture_model("llama-tiny-rm") +
                             " --judge_mode single --max_new_tokens 2 --output_dir " + (tmp / "rm").string());
  EXPECT_NE(rm.exit_code, 0);
  EXPECT_NE(rm.output.find("needs an http: or cmd: judge"), std::string::npos) << rm.output;
}

TEST(EvalE2E, RewardModelJudgeAgreesWithPreferScore) {
  // The rm: judge's verdicts equal prefer score's comparison of the same answers, in both orders.
  test::TempDir tmp;
  test::write_bytes(tmp / "prompts.jsonl", R"({"prompt": "Tell me about cats"})" "\n" R"({"prompt": "Count to three"})" "\n"
                                           R"({"messages": [{"role": "user", "content": "hi"}]})" "\n" R"({"prompt": "What is 2 + 2?"})" "\n");
  auto r = test::run_prefer("eval --threads 1 --model " + fixture_model("llama-tiny") + " --reference " + fixture_model("qwen2-tiny") +
                            " --prompts " + (tmp / "prompts.jsonl").string() + " --judge rm:" + fixture_model("llama-tiny-rm") +
                            " --no_judge_cache --max_new_tokens 6 --output_dir " + (tmp / "out").string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto samples = read_jsonl_file(tmp / "out" / "samples.jsonl");
  ASSERT_EQ(samples.size(), 4u);
  for (size_t i = 0; i < samples.size(); ++i) {
    const Json& v = samples[i].value;
    const bool chat = v["prompt"].is_array();
    auto side = [&](const char* key) { return chat ? Json::array({{{"role", "assistant"}, {"content", v[key]}}}) : v[key]; };
    const fs::path in = tmp / ("pair" + std::to_string(i) + ".jsonl");
    test::write_bytes(in, Json{{"prompt", v["prompt"]}, {"chosen", side("completion_model")}, {"rejected", side("completion_reference")}}.dump() + "\n");
    auto sc = test::run_prefer("score --threads 1 --model " + fixture_model("llama-tiny-rm") + " --data " + in.string() + " --output " +
                               (tmp / "s.jsonl").string());
    ASSERT_EQ(sc.exit_code, 0) << sc.output;
    Json scored = read_jsonl_file(tmp / "s.jsonl").at(0).value;
    const double c = scored["chosen_score"].get<double>(), rj = scored["rejected_score"].get<double>();
    const std::string model_first = c > rj ? "A" : c < rj ? "B" : "C", model_second = c > rj ? "B" : c < rj ? "A" : "C";
    EXPECT_EQ(v["verdict_ab"], model_first) << i;
    EXPECT_EQ(v["verdict_ba"], model_second) << i;
    EXPECT_EQ(v["outcome"], c > rj ? "win" : c < rj ? "loss" : "tie") << i;
  }
  // The same model on both sides: identical answers are ties, not an error about identical pairs.
  auto same = test::run_prefer("eval --threads 1 --model " + fixture_model("llama-tiny") + " --reference " + fixture_model("llama-tiny") +
                               " --prompts " + (tmp / "prompts.jsonl").string() + " --judge rm:" + fixture_model("llama-tiny-rm") +
                               " --no_judge_cache --max_new_tokens 4 --output_dir " + (tmp / "same").string());
  ASSERT_EQ(same.exit_code, 0) << same.output;
  EXPECT_EQ(read_json_file(tmp / "same" / "eval.json")["tie_rate"], 1.0);
}

TEST(EvalE2E, HeldOutAccuracyAndCapability) {
  test::TempDir tmp;
  test::write_prefs(tmp / "pairs.jsonl", 6);
  // Question 1: " x" against " x x x x x x": the longer choice adds log-probabilities (all negative) to
  // the same first token, so summed scoring must pick choice 0. Question 2 says the answer is the
  // longer one, so it is wrong: accuracy 0.5, for model and reference alike (the same weights).
  test::write_bytes(tmp / "mc.jsonl", R"({"question": "Pick one.", "choices": ["x", "x x x x x x"], "answer": 0})" "\n"
                                      R"({"question": "Pick again.", "choices": ["x", "x x x x x x"], "answer": "B"})" "\n");
  test::write_bytes(tmp / "text.jsonl", R"({"text": "The cat sat on the mat."})" "\n");
  auto r = test::run_prefer("eval --threads 1 --model " + fixture_model("llama-tiny") + " --reference " + fixture_model("llama-tiny") +
                            " --data " + (tmp / "pairs.jsonl").string() + " --capability " + (tmp / "mc.jsonl").string() +
                            " --perplexity_data " + (tmp / "text.jsonl").string() + " --output_dir " + (tmp / "out").string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  Json e = read_json_file(tmp / "out" / "eval.json");
  // The same model on both sides: every implicit reward is 0, no pair is won, and the band warning says so.
  EXPECT_EQ(e["preference_accuracy"]["pairs"], 6);
  EXPECT_EQ(e["preference_accuracy"]["accuracy"], 0.0);
  EXPECT_EQ(e["preference_accuracy"]["margin_mean"], 0.0);
  EXPECT_NE(r.output.find("below the 0.70-0.90 band"), std::string::npos) << r.output;
  EXPECT_DOUBLE_EQ(e["capability"]["mc_accuracy_model"].get<double>(), 0.5);
  EXPECT_DOUBLE_EQ(e["capability"]["mc_accuracy_reference"].get<double>(), 0.5);
  EXPECT_DOUBLE_EQ(e["capability"]["perplexity_model"].get<double>(), e["capability"]["perplexity_reference"].get<double>());
  EXPECT_GT(e["capability"]["perplexity_model"].get<double>(), 1.0);
  EXPECT_FALSE(e.contains("win_rate"));

  // Reference-free accuracy compares average log-probs; it equals prefer logprobs' per-token means.
  auto rf = test::run_prefer("eval --threads 1 --model " + fixture_model("llama-tiny") + " --reference_free --data " +
                             (tmp / "pairs.jsonl").string() + " --output_dir " + (tmp / "rf").string());
  ASSERT_EQ(rf.exit_code, 0) << rf.output;
  auto lp = test::run_prefer("logprobs --threads 1 --model " + fixture_model("llama-tiny") + " --data " + (tmp / "pairs.jsonl").string() +
                             " --max_length 0 --output " + (tmp / "lp.jsonl").string());
  ASSERT_EQ(lp.exit_code, 0) << lp.output;
  int right = 0;
  for (const auto& row : read_jsonl_file(tmp / "lp.jsonl")) {
    const Json& v = row.value;
    right += v["chosen_logps"].get<double>() / v["chosen_num_tokens"].get<double>() >
             v["rejected_logps"].get<double>() / v["rejected_num_tokens"].get<double>();
  }
  EXPECT_DOUBLE_EQ(read_json_file(tmp / "rf" / "eval.json")["preference_accuracy"]["accuracy"].get<double>(), right / 6.0);
}

TEST(EvalE2E, HttpJudgeAgainstPreferServe) {
  // The tiny served model never answers in the [[A]]/[[B]]/[[C]] format, so every verdict is a judge
  // error: counted, kept out of the rates, and the run still completes.
  test::TempDir tmp;
  test::ServeProcess server("--threads 1 --served_model_name judge --model " + fixture_model("qwen2-tiny"), tmp.path());
  ASSERT_GT(server.port(), 0) << server.log();
  test::write_bytes(tmp / "prompts.jsonl", R"({"messages": [{"role": "user", "content": "hi"}]})" "\n" R"({"prompt": "Say yes."})" "\n");
  auto r = test::run_prefer("eval --threads 1 --model " + fixture_model("qwen2-tiny") + " --reference " + fixture_model("qwen2-tiny") +
                            " --prompts " + (tmp / "prompts.jsonl").string() + " --judge http:" + server.base_url() +
                            " --judge_model judge --judge_retries 0 --no_judge_cache --max_new_tokens 4 --output_dir " + (tmp / "out").string());
  ASSERT_EQ(r.exit_code, 0) << r.output << server.log();
  Json e = read_json_file(tmp / "out" / "eval.json");
  EXPECT_EQ(e["judged"], 0);
  EXPECT_EQ(e["judge_errors"], 2);
  auto samples = read_jsonl_file(tmp / "out" / "samples.jsonl");
  ASSERT_EQ(samples.size(), 2u);
  EXPECT_EQ(samples[0].value["verdict_ab"], "error");
  server.stop();
  // Unreachable now: a clear error naming the URL.
  auto gone = test::run_prefer("eval --model " + fixture_model("qwen2-tiny") + " --reference " + fixture_model("qwen2-tiny") + " --prompts " +
                               (tmp / "prompts.jsonl").string() + " --judge http:" + server.base_url() +
                               " --judge_model judge --judge_retries 0 --no_judge_cache --max_new_tokens 2 --output_dir " + (tmp / "gone").string());
  EXPECT_NE(gone.exit_code, 0);
  EXPECT_NE(gone.output.find(server.base_url() + "/chat/completions"), std::string::npos) << gone.output;
  EXPECT_FALSE(fs::exists(tmp / "gone" / "eval.json"));
}

TEST(EvalE2E, BadInputIsNamed) {
  test::TempDir tmp;
  test::write_bytes(tmp / "p.jsonl", R"({"prompt": "ok"})" "\n" R"({"question": "x"})" "\n");
  const std::string base = "eval --model " + fixture_model("llama-tiny") + " --reference " + fixture_model("llama-tiny") + " --output_dir " +
                           (tmp / "o").string();
  auto bad_line = test::run_prefer(base + " --prompts " + (tmp / "p.jsonl").string() + " --judge 'cmd:cat'");
  EXPECT_EQ(bad_line.exit_code, 1);
  EXPECT_NE(bad_line.output.find("p.jsonl:2: needs a prompt"), std::string::npos) << bad_line.output;
  auto no_judge = test::run_prefer(base + " --prompts " + (tmp / "p.jsonl").string());
  EXPECT_NE(no_judge.output.find("--prompts needs a --judge"), std::string::npos) << no_judge.output;
  auto bad_judge = test::run_prefer(base + " --prompts " + (tmp / "p.jsonl").string() + " --judge gpt4");
  EXPECT_NE(bad_judge.output.find("'gpt4' is not a judge"), std::string::npos) << bad_judge.output;
  test::write_bytes(tmp / "mc.jsonl", R"({"question": "q", "choices": ["a", "b"], "answer": 5})" "\n");
  auto bad_mc = test::run_prefer(base + " --capability " + (tmp / "mc.jsonl").string());
  EXPECT_NE(bad_mc.output.find("mc.jsonl:1: 'answer': points past"), std::string::npos) << bad_mc.output;
  auto nothing = test::run_prefer(base);
  EXPECT_NE(nothing.output.find("nothing to evaluate"), std::string::npos) << nothing.output;
}

}  // namespace prefer

namespace prefer {

TEST(EvalE2E, WinRateDuringTrainingKeepsTheBestModel) {
  // DPO with --eval_prompts and a scripted judge (the longer answer wins): every evaluation logs the win
  // rate against the starting model, and final/ is the adapter of the evaluation with the highest one.
  test::TempDir tmp;
  test::write_prefs(tmp / "p.jsonl", 16);
  write_eval_judge(tmp / "judge.mjs");
  test::write_bytes(tmp / "prompts.jsonl", R"({"prompt": "Tell me about cats"})" "\n" R"({"prompt": "Count to three"})" "\n"
                                           R"({"prompt": "What is 2 + 2?"})" "\n");
  auto r = test::run_prefer_env("PREFER_CACHE_DIR=" + (tmp / "cache").string() + " ",
                                "dpo --threads 1 --model " + fixture_model("llama-tiny") + " --data " + (tmp / "p.jsonl").string() +
                                " --per_device_train_batch_size 4 --learning_rate 5e-3 --max_steps 8 --eval_steps 2 --logging_steps 2 --use_peft"
                                " --lora_r 4 --seed 5 --eval_prompts " + (tmp / "prompts.jsonl").string() + " --judge 'cmd:node " +
                                (tmp / "judge.mjs").string() + "' --eval_max_new_tokens 12 --metric_for_best_model eval_win_rate --output_dir " +
                                (tmp / "run").string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::vector<std::pair<int64_t, double>> evals;
  for (const Json& row : test::metrics_rows(tmp / "run"))
    if (row.contains("eval_win_rate")) {
      evals.push_back({row["step"].get<int64_t>(), row["eval_win_rate"].get<double>()});
      EXPECT_NEAR(row["eval_win_rate"].get<double>() + row["eval_tie_rate"].get<double>() + row["eval_loss_rate"].get<double>(), 1.0, 1e-9);
    }
  ASSERT_EQ(evals.size(), 4u);  // steps 2, 4, 6, 8
  auto best = evals[0];
  for (const auto& e : evals)
    if (e.second > best.second) best = e;  // the first of equal values stays
  Json state = read_json_file(tmp / "run" / "best_model" / "best_state.json");
  EXPECT_EQ(state["step"], best.first);
  EXPECT_DOUBLE_EQ(state["value"].get<double>(), best.second);
  EXPECT_EQ(read_file(tmp / "run" / "final" / "adapter_model.safetensors"), read_file(tmp / "run" / "best_model" / "adapter_model.safetensors"));
  EXPECT_TRUE(fs::exists(tmp / "run" / "eval_prompts_reference.jsonl"));
  EXPECT_NE(r.output.find("final/ holds the best model by eval_win_rate"), std::string::npos) << r.output;

  auto no_eval = test::run_prefer("dpo --model " + fixture_model("llama-tiny") + " --data " + (tmp / "p.jsonl").string() +
                                  " --max_steps 1 --metric_for_best_model eval_win_rate --output_dir " + (tmp / "run2").string());
  EXPECT_NE(no_eval.exit_code, 0);
  EXPECT_NE(no_eval.output.find("needs an evaluation to rank models by"), std::string::npos) << no_eval.output;
}

}  // namespace prefer
