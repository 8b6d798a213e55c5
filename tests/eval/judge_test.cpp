#include <fmt/format.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <cmath>
#include <thread>

#include "eval/http_judge.h"
#include "eval/judge_cache.h"
#include "eval/program_judge.h"
#include "test_util.h"

namespace prefer::eval {

namespace {

std::vector<JudgeItem> items(int n) {
  std::vector<JudgeItem> v;
  for (int i = 0; i < n; ++i) v.push_back({fmt::format("q{}", i), fmt::format("q{}", i), fmt::format("a{}", i), fmt::format("bb{}", i)});
  return v;
}

std::vector<Verdict> run(Judge& j, const std::vector<JudgeItem>& it) {
  std::vector<Verdict> out(it.size(), Verdict::Error);
  j.judge(it, [&](size_t i, Verdict v) { out[i] = v; });
  return out;
}

}  // namespace

TEST(Judge, BracketedVerdictsAndTemplates) {
  EXPECT_EQ(parse_bracketed_verdict("A is better. [[A]]"), Verdict::A);
  EXPECT_EQ(parse_bracketed_verdict("Format: [[A]], [[B]] or [[C]]. Verdict: [[B]]"), Verdict::B);
  EXPECT_EQ(parse_bracketed_verdict("[[C]]"), Verdict::Tie);
  EXPECT_EQ(parse_bracketed_verdict("A"), Verdict::Error);
  JudgeItem it{"", "Q {answer_a}", "x {question}", "y"};
  // Placeholders inside the texts are not expanded again.
  EXPECT_EQ(fill_template("{question}|{answer_a}|{answer_b}|{other}", it), "Q {answer_a}|x {question}|y|{other}");
}

TEST(Judge, SingleGradesAreParsedWithinOneToTen) {
  EXPECT_EQ(parse_bracketed_score("Clear and correct. Rating: [[8]]"), 8.0);
  EXPECT_EQ(parse_bracketed_score("Format [[5]]. Rating: [[7.5]]"), 7.5);
  EXPECT_EQ(parse_bracketed_score("Rating: [[7]] then [[A]]"), 7.0);
  EXPECT_TRUE(std::isnan(parse_bracketed_score("Rating: [[11]]")));
  EXPECT_TRUE(std::isnan(parse_bracketed_score("Rating: 7")));
  JudgeItem it{"", "Q", "ans", ""};
  EXPECT_EQ(fill_template(kSingleUserTemplate, it), "[User Question]\nQ\n\n[Assistant's Answer]\nans\n[End of Assistant's Answer]");
  ProgramJudge j({.command = "cat > /dev/null; printf '3\\n9.5\\n'"}, 8);
  std::vector<double> g(2);
  j.grade(items(2), [&](size_t i, double v) { g[i] = v; });
  EXPECT_EQ(g, (std::vector<double>{3.0, 9.5}));
  ProgramJudge bad({.command = "cat > /dev/null; printf '3\\n12\\n'"}, 8);
  EXPECT_ERROR_WITH(bad.grade(items(2), [](size_t, double) {}), "'12' on line 2", "from 1 to 10");
}

TEST(Judge, ProgramJudgeSpeaksTheProtocol) {
  // Longer answer wins, by the lengths the program reads from its JSON input.
  ProgramJudge j({.command = "node -e \"require('readline').createInterface({input: process.stdin}).on('line', l => { const o = JSON.parse(l); "
                             "console.log(o.answer_a.length > o.answer_b.length ? 'A' : o.answer_b.length > o.answer_a.length ? 'b ' : 'C'); })\""},
                 2);
  auto it = items(3);
  std::swap(it[1].answer_a, it[1].answer_b);
  EXPECT_EQ(run(j, it), (std::vector<Verdict>{Verdict::B, Verdict::A, Verdict::B}));
}

TEST(Judge, ProgramFailuresNameTheProgramAndLine) {
  auto it = items(2);
  ProgramJudge short_output({.command = "head -c 0; echo A"}, 8);
  EXPECT_ERROR_WITH(run(short_output, it), "judge program 'head -c 0; echo A'", "wrote 1 lines for 2 items");
  ProgramJudge bad_line({.command = "cat > /dev/null; printf 'A\\nmaybe\\n'"}, 8);
  EXPECT_ERROR_WITH(run(bad_line, it), "'maybe' on line 2", "A, B or C");
  ProgramJudge crash({.command = "echo broken >&2; exit 4"}, 8);
  EXPECT_ERROR_WITH(run(crash, it), "status 4", "broken");
  ProgramJudge slow({.command = "sleep 30", .timeout_s = 0.3}, 8);
  EXPECT_ERROR_WITH(run(slow, it), "command_timeout", "stopped");
}

TEST(Judge, AProgramJudgesIdentityFollowsItsScript) {
  // Verdicts are cached by the judge's identity: editing the script a command runs makes a new judge.
  test::TempDir tmp;
  test::write_bytes(tmp / "j.sh", "echo A\n");
  ProgramJudge j({.command = "sh " + (tmp / "j.sh").string()}, 8);
  const std::string before = j.identity();
  EXPECT_EQ(j.identity(), before);
  test::write_bytes(tmp / "j.sh", "echo B\n");
  EXPECT_NE(j.identity(), before);
  EXPECT_EQ(ProgramJudge({.command = "cat"}, 8).identity(), "cmd:cat");
}

TEST(Judge, CacheAnswersRepeatsAndSurvivesARestart) {
  test::TempDir tmp;
  struct Counting : Judge {
    int calls = 0;
    std::string identity() const override { return "counting"; }
    void judge(const std::vector<JudgeItem>& it, const std::function<void(size_t, Verdict)>& cb) override {
      for (size_t i = 0; i < it.size(); ++i) ++calls, cb(i, i % 2 ? Verdict::B : Verdict::A);
    }
  } judge;
  {
    JudgeCache cache(tmp / "c" / "v.jsonl");
    EXPECT_EQ(judge_cached(judge, cache, items(3)), (std::vector<Verdict>{Verdict::A, Verdict::B, Verdict::A}));
    EXPECT_EQ(judge.calls, 3);
  }
  JudgeCache again(tmp / "c" / "v.jsonl");
  auto four = items(4);
  auto v = judge_cached(judge, again, four);
  EXPECT_EQ(judge.calls, 4);  // only the new item was asked
  EXPECT_EQ(again.hits(), 3);
  EXPECT_EQ(v[3], Verdict::A);  // the new item is the first of its call
  JudgeCache none;
  judge_cached(judge, none, items(2));
  EXPECT_EQ(judge.calls, 6);
}

TEST(Judge, HttpJudgeRetriesThenReportsTheUrlAndStatus) {
  httplib::Server server;
  std::atomic<int> calls{0};
  server.Post("/v1/chat/completions", [&](const httplib::Request& req, httplib::Response& res) {
    const int k = calls++;
    Json body = parse_json(req.body);
    if (k < 2) {  // two failures, then a verdict
      res.status = 503;
      return;
    }
    const std::string user = body["messages"][1]["content"].get<std::string>();
    const bool has_all = user.find("[User Question]\nq0") != std::string::npos && body["model"] == "judge-1" && body["temperature"] == 0.0;
    res.set_content(Json{{"choices", {{{"message", {{"role", "assistant"}, {"content", has_all ? "B is better.\n[[B]]" : "?"}}}}}}}.dump(), "application/json");
  });
  const int port = server.bind_to_any_port("127.0.0.1");
  std::thread t([&] { server.listen_after_bind(); });
  HttpJudgeOptions o{.base_url = "http://127.0.0.1:" + std::to_string(port) + "/v1", .model = "judge-1"};
  o.concurrency = 1;
  o.backoff_s = 0.01;
  HttpJudge j(o);
  EXPECT_EQ(run(j, items(1)), std::vector<Verdict>{Verdict::B});
  EXPECT_EQ(calls.load(), 3);
  // An unparseable reply is retried, then reported as a judge error (not a failure of the run).
  calls = 100;
  auto q = items(1);
  q[0].question = "other";
  EXPECT_EQ(run(j, q), std::vector<Verdict>{Verdict::Error});
  EXPECT_EQ(calls.load(), 100 + 1 + o.retries);
  server.stop();
  t.join();
  // Nothing listens there now.
  o.retries = 1;
  HttpJudge gone(o);
  const std::string url = "judge http://127.0.0.1:" + std::to_string(port) + "/v1/chat/completions";
  EXPECT_ERROR_WITH(run(gone, items(1)), url.c_str(), "failed after 2 tries");
  EXPECT_ERROR_WITH((void)HttpJudge(HttpJudgeOptions{.base_url = "127.0.0.1:8000", .model = "x"}), "not an http:// or https:// URL");
}

}  // namespace prefer::eval
