// prefer data synth end to end: contrast pairs from a local model and from prefer serve (reproducible,
// valid, no system prompt stored), best-of-N against a scripted verifier whose scores the test computes
// itself, the built-in verifiers, kill and resume, and the errors.
#include <cstdlib>

#include "cli/cli_run.h"
#include "cli/run_files.h"
#include "cli/serve_process.h"
#include "test_util.h"
#include "util/file.h"
#include "util/json.h"

namespace prefer {

namespace fs = std::filesystem;

namespace {

const std::string kSynthModel = test::fixture("models/qwen2-tiny").string();
const std::string kGood = "You are concise and careful.", kBad = "You ramble and guess.";

void write_prompts(const fs::path& file, int n) {
  std::string s;
  for (int i = 0; i < n; ++i)
    s += i % 3 == 1 ? R"({"messages": [{"role": "system", "content": "Own system."}, {"role": "user", "content": "Question )" + std::to_string(i) + "?\"}], \"answer\": \"a\"}\n"
                    : R"({"prompt": "Question )" + std::to_string(i) + R"(?", "answer": "a", "topic": "t)" + std::to_string(i % 2) + "\"}\n";
  test::write_bytes(file, s);
}

// A verifier with a known rule: each candidate's score is its JSON line's length in bytes (+1 for the
// newline wc counts); it logs every line it reads to $LOG, and sleeps first so a run can be killed
// between chunks.
void write_verifier(const fs::path& file) {
  test::write_bytes(file, "sleep 0.2\nwhile IFS= read -r line; do printf '%s\\n' \"$line\" >> \"${LOG:-/dev/null}\"; "
                          "printf '%s\\n' \"$line\" | wc -c; done\n");
}

}  // namespace

TEST(DataSynthE2E, ContrastPairsAreReproducibleValidAndKeepSystemPromptsOut) {
  test::TempDir tmp;
  write_prompts(tmp / "p.jsonl", 5);
  const std::string args = "data synth --threads 1 --prompts " + (tmp / "p.jsonl").string() + " --model " + kSynthModel + " --good_system '" +
                           kGood + "' --bad_system '" + kBad + "' --max_new_tokens 6 --rejected_max_new_tokens 9 --batch_size 2 --seed 5";
  auto a = test::run_prefer(args + " --output " + (tmp / "a.jsonl").string());
  ASSERT_EQ(a.exit_code, 0) << a.output;
  auto b = test::run_prefer(args + " --output " + (tmp / "b.jsonl").string());
  ASSERT_EQ(b.exit_code, 0) << b.output;
  EXPECT_EQ(read_file(tmp / "a.jsonl"), read_file(tmp / "b.jsonl"));
  const std::string text = read_file(tmp / "a.jsonl");
  EXPECT_EQ(text.find("concise"), std::string::npos) << "a system prompt leaked into the stored data";
  EXPECT_EQ(text.find("ramble"), std::string::npos);
  const Json report = read_json_file(tmp / "a.jsonl.report.json");
  EXPECT_EQ(report["prompts"], 5);
  EXPECT_EQ(report["pairs"].get<int64_t>() + report["dropped"].value("identical", 0) + report["dropped"].value("empty_answer", 0), 5);
  for (const Json& r : test::jsonl_values(tmp / "a.jsonl")) {
    // The fixture has a chat template: conversational rows, the prompt's own system message kept as it was.
    ASSERT_TRUE(r["prompt"].is_array()) << r.dump();
    EXPECT_EQ(r["chosen"][0]["role"], "assistant");
    EXPECT_EQ(r["meta"]["mode"], "contrast");
    EXPECT_EQ(r["meta"]["generator"], "qwen2-tiny");
    if (r["prompt"].size() == 2) EXPECT_EQ(r["prompt"][0]["content"], "Own system.");
  }
  auto v = test::run_prefer("data validate --data " + (tmp / "a.jsonl").string() + " --model " + kSynthModel + " --report");
  EXPECT_EQ(v.exit_code, 0) << v.output;
  EXPECT_NE(v.output.find("bias report"), std::string::npos) << v.output;

  // KTO rows: two per pair, desirable first.
  auto u = test::run_prefer(args + " --unpaired --output " + (tmp / "u.jsonl").string());
  ASSERT_EQ(u.exit_code, 0) << u.output;
  const std::vector<Json> ur = test::jsonl_values(tmp / "u.jsonl");
  ASSERT_EQ(ur.size(), 2 * test::jsonl_values(tmp / "a.jsonl").size());
  EXPECT_EQ(ur[0]["label"], true);
  EXPECT_EQ(ur[1]["label"], false);
  EXPECT_EQ(ur[0]["completion"], test::jsonl_values(tmp / "a.jsonl")[0]["chosen"]);
}

TEST(DataSynthE2E, PreferServeAsGeneratorIsReproducible) {
  test::TempDir tmp;
  test::ServeProcess server("--threads 1 --served_model_name gen --model " + kSynthModel, tmp.path());
  ASSERT_GT(server.port(), 0) << server.log();
  write_prompts(tmp / "p.jsonl", 3);
  const std::string args = "data synth --prompts " + (tmp / "p.jsonl").string() + " --model http:" + server.base_url() +
                           " --model_name gen --good_system '" + kGood + "' --bad_system @" + (tmp / "bad.txt").string() +
                           " --max_new_tokens 5 --seed 9 --model_retries 0";
  test::write_bytes(tmp / "bad.txt", kBad);
  auto a = test::run_prefer(args + " --output " + (tmp / "a.jsonl").string());
  ASSERT_EQ(a.exit_code, 0) << a.output << server.log();
  auto b = test::run_prefer(args + " --output " + (tmp / "b.jsonl").string());
  ASSERT_EQ(b.exit_code, 0) << b.output;
  EXPECT_EQ(read_file(tmp / "a.jsonl"), read_file(tmp / "b.jsonl"));
  EXPECT_EQ(read_file(tmp / "a.jsonl").find("ramble"), std::string::npos);
  for (const Json& r : test::jsonl_values(tmp / "a.jsonl")) EXPECT_EQ(r["meta"]["generator"], "http:gen");

  // prefer serve as a single-answer judge: the tiny model never writes [[score]], so every candidate is
  // unscored and no pair is made (and the report says why).
  auto j = test::run_prefer("data synth --prompts " + (tmp / "p.jsonl").string() + " --model " + kSynthModel +
                            " --num_candidates 2 --max_new_tokens 3 --judge http:" + server.base_url() +
                            " --judge_model gen --judge_mode single --judge_retries 0 --no_judge_cache --output " + (tmp / "j.jsonl").string());
  ASSERT_EQ(j.exit_code, 0) << j.output;
  const Json report = read_json_file(tmp / "j.jsonl.report.json");
  EXPECT_EQ(report["pairs"], 0);
  EXPECT_EQ(report["dropped"]["too_few_candidates"], 3) << report.dump();

  server.stop();
  auto down = test::run_prefer(args + " --output " + (tmp / "c.jsonl").string());
  EXPECT_NE(down.exit_code, 0);
  EXPECT_NE(down.output.find(server.base_url() + "/chat/completions"), std::string::npos) << down.output;
  EXPECT_FALSE(fs::exists(tmp / "c.jsonl"));
}

TEST(DataSynthE2E, BestOfNKeepsTheVerifiersBestAndWorstAndResumes) {
  test::TempDir tmp;
  write_prompts(tmp / "p.jsonl", 6);
  write_verifier(tmp / "verify.sh");
  const std::string args = "data synth --threads 1 --prompts " + (tmp / "p.jsonl").string() + " --model " + kSynthModel +
                           " --num_candidates 4 --temperature 1.0 --max_new_tokens 8 --batch_size 2 --seed 1 --verifier 'sh " +
                           (tmp / "verify.sh").string() + "'";
  ::setenv("LOG", (tmp / "seen.jsonl").c_str(), 1);
  auto whole = test::run_prefer(args + " --output " + (tmp / "whole.jsonl").string());
  ::unsetenv("LOG");
  ASSERT_EQ(whole.exit_code, 0) << whole.output;

  // The expected pair of each prompt, from what the verifier saw (in prompt order): the longest line's
  // candidate as chosen, the shortest as rejected (the first on ties), no pair when all lengths are equal.
  std::vector<std::pair<std::string, std::vector<std::pair<size_t, std::string>>>> seen;
  for (const Json& l : test::jsonl_values(tmp / "seen.jsonl")) {
    EXPECT_EQ(l["answer"], "a") << "the prompt row's columns reach the verifier";
    const std::string prompt = l["prompt"].dump();
    if (seen.empty() || seen.back().first != prompt) seen.push_back({prompt, {}});
    seen.back().second.push_back({l.dump().size(), l["completion"].get<std::string>()});
  }
  ASSERT_GE(seen.size(), 5u) << "some prompt had no non-empty candidate";
  std::vector<std::pair<std::string, std::string>> expected;
  for (auto& [prompt, cands] : seen) {
    auto best = cands.begin(), worst = cands.begin();
    for (auto it = cands.begin(); it != cands.end(); ++it) {
      if (it->first > best->first) best = it;
      if (it->first < worst->first) worst = it;
    }
    if (best->first != worst->first) expected.push_back({best->second, worst->second});
  }
  const std::vector<Json> out = test::jsonl_values(tmp / "whole.jsonl");
  ASSERT_EQ(out.size(), expected.size());
  ASSERT_GT(out.size(), 0u);
  for (size_t i = 0; i < out.size(); ++i) {
    EXPECT_EQ(out[i]["chosen"][0]["content"], expected[i].first) << i;
    EXPECT_EQ(out[i]["rejected"][0]["content"], expected[i].second) << i;
    EXPECT_GT(out[i]["meta"]["chosen_score"].get<double>(), out[i]["meta"]["rejected_score"].get<double>());
    EXPECT_EQ(out[i]["meta"]["mode"], "best_of_n");
  }

  // Killed after its first chunk, then run again: the same bytes as the uninterrupted run.
  const fs::path killed = tmp / "killed.jsonl";
  ASSERT_TRUE(test::kill_when_written(args + " --output " + killed.string(), tmp / "killed.jsonl.progress.json"));
  ASSERT_FALSE(fs::exists(killed));
  EXPECT_TRUE(fs::exists(tmp / "killed.jsonl.partial"));
  auto resumed = test::run_prefer(args + " --output " + killed.string());
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_NE(resumed.output.find("resuming"), std::string::npos) << resumed.output;
  EXPECT_EQ(read_file(killed), read_file(tmp / "whole.jsonl"));
  Json a = read_json_file(killed.string() + ".report.json"), b = read_json_file(tmp / "whole.jsonl.report.json");
  a["bias"].erase("file");
  b["bias"].erase("file");
  EXPECT_EQ(a, b);
  EXPECT_FALSE(fs::exists(tmp / "killed.jsonl.progress.json"));
}

TEST(DataSynthE2E, BuiltInVerifiersAndErrors) {
  test::TempDir tmp;
  // A hand-made generator is not needed: regex and exact_match read the answer column; with the tiny
  // model no candidate equals "a", so exact_match scores all 0 and makes no pair.
  write_prompts(tmp / "p.jsonl", 2);
  const std::string base = "data synth --threads 1 --prompts " + (tmp / "p.jsonl").string() + " --model " + kSynthModel + " --max_new_tokens 4";
  auto em = test::run_prefer(base + " --num_candidates 3 --verifier exact_match --output " + (tmp / "em.jsonl").string());
  ASSERT_EQ(em.exit_code, 0) << em.output;
  EXPECT_EQ(read_json_file(tmp / "em.jsonl.report.json")["dropped"]["equal_scores"], 2);
  auto rx = test::run_prefer(base + " --num_candidates 3 --verifier 'regex:.' --output " + (tmp / "rx.jsonl").string());
  ASSERT_EQ(rx.exit_code, 0) << rx.output;

  auto expect_error = [&](const std::string& extra, const std::string& field) {
    auto r = test::run_prefer(base + " --output " + (tmp / "x.jsonl").string() + " " + extra);
    EXPECT_NE(r.exit_code, 0) << extra;
    EXPECT_NE(r.output.find(field), std::string::npos) << r.output;
    EXPECT_EQ(r.output.find("internal error"), std::string::npos) << r.output;
    EXPECT_FALSE(fs::exists(tmp / "x.jsonl"));
  };
  expect_error("--good_system a --bad_system b --num_candidates 2 --verifier exact_match", "two ways to make pairs");
  expect_error("", "say how to make pairs");
  expect_error("--good_system a", "'bad_system'");
  expect_error("--num_candidates 2", "'judge'");
  expect_error("--num_candidates 2 --verifier 'regex:('", "is not a regular expression");
  expect_error("--num_candidates 2 --judge http:http://127.0.0.1:9/v1 --judge_model x", "--judge_mode single");
  test::write_bytes(tmp / "p.jsonl", "{\"prompt\": \"ok\"}\n{\"text\": \"no prompt\"}\n");
  expect_error("--num_candidates 2 --verifier exact_match", "p.jsonl:2");
  test::write_bytes(tmp / "p.jsonl", "{\"prompt\": \"ok\"}\n");
  expect_error("--num_candidates 2 --verifier exact_match", "has no answer column");
}

}  // namespace prefer
