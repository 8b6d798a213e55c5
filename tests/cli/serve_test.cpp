#include <httplib.h>

#include <future>

#include "cli/cli_run.h"
#include "cli/serve_process.h"
#include "test_util.h"
#include "util/file.h"
#include "util/json.h"

namespace prefer {

namespace fs = std::filesystem;

namespace {

// `prefer generate`'s completion (greedy) for one input line.
std::string generate_one(const test::TempDir& tmp, const std::string& line, int max_new_tokens) {
  test::write_bytes(tmp / "g.jsonl", line + "\n");
  auto r = test::run_prefer("generate --threads 1 --max_new_tokens " + std::to_string(max_new_tokens) + " --model " +
                            test::fixture("models/qwen2-tiny").string() + " --data " + (tmp / "g.jsonl").string() + " --output " +
                            (tmp / "go.jsonl").string());
  EXPECT_EQ(r.exit_code, 0) << r.output;
  return read_jsonl_file(tmp / "go.jsonl").at(0).value["completion"].get<std::string>();
}

}  // namespace

TEST(ServeE2E, TheOpenAiClientWorksUnchangedAndGreedyEqualsGenerate) {
  ASSERT_TRUE(fs::exists(test::reference_dir() / "node_modules" / "openai" / "package.json")) << "run scripts/setup.sh (npm packages in tools/reference)";
  test::TempDir tmp;
  test::ServeProcess server("--threads 1 --api_key sk-test --served_model_name tiny --model " + test::fixture("models/qwen2-tiny").string(), tmp.path());
  ASSERT_GT(server.port(), 0) << server.log();
  std::string cmd = "cd '" + test::reference_dir().string() + "' && node openai_client.mjs " + server.base_url() + " sk-test > '" +
                    (tmp / "out.json").string() + "' 2> '" + (tmp / "err.txt").string() + "'";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << read_file(tmp / "err.txt") << server.log();
  Json out = parse_json(read_file(tmp / "out.json"));

  const std::string chat = generate_one(tmp, R"({"messages": [{"role": "user", "content": "hi"}]})", 8);
  EXPECT_EQ(out["chat"]["text"], chat);
  EXPECT_EQ(out["chat"]["role"], "assistant");
  EXPECT_EQ(out["chat"]["object"], "chat.completion");
  EXPECT_EQ(out["chat"]["model"], "whatever");  // a one-model server answers to any name
  const Json& u = out["chat"]["usage"];
  EXPECT_EQ(u["total_tokens"].get<int>(), u["prompt_tokens"].get<int>() + u["completion_tokens"].get<int>());
  EXPECT_LE(u["completion_tokens"].get<int>(), 8);
  EXPECT_EQ(out["stream"]["text"], chat);
  EXPECT_EQ(out["stream"]["role"], "assistant");
  EXPECT_EQ(out["stream"]["finish"], out["chat"]["finish"]);
  EXPECT_EQ(out["stream"]["usage"], u);
  EXPECT_EQ(out["sampled"][0], out["sampled"][1]);  // a seed repeats
  EXPECT_EQ(out["sampled"][0].size(), 2u);

  const std::string completion = generate_one(tmp, R"({"prompt": "The answer is"})", 6);
  EXPECT_EQ(out["completion"]["text"], completion);
  EXPECT_EQ(out["completion"]["object"], "text_completion");
  EXPECT_EQ(out["completion_stream"], completion);
  EXPECT_EQ(out["models"], Json::array({"tiny"}));
  EXPECT_EQ(out["refused"]["status"], 400);
  EXPECT_EQ(out["refused"]["param"], "messages[0].role");
  EXPECT_EQ(server.stop(), 0) << server.log();
}

TEST(ServeE2E, BadRequestsGetJsonErrorsAndTheServerKeepsServing) {
  test::TempDir tmp;
  test::ServeProcess server("--threads 1 --max_body_mb 0.05 --api_key k --model " + test::fixture("models/qwen2-tiny").string(), tmp.path());
  ASSERT_GT(server.port(), 0) << server.log();
  httplib::Client c("127.0.0.1", server.port());
  c.set_read_timeout(60, 0);
  const httplib::Headers auth = {{"Authorization", "Bearer k"}};
  const std::string ok = R"({"messages": [{"role": "user", "content": "hi"}], "max_tokens": 2})";
  const std::string deep = std::string(200000, '[') + std::string(200000, ']');
  struct Case {
    std::string path, body;
    int status;
    std::string in_message;
  };
  const std::vector<Case> corpus = {
      {"/v1/chat/completions", "{\"messages\": [", 400, "not valid JSON"},
      {"/v1/chat/completions", "{\"messages\": " + std::string(20000, '[') + "}", 400, "levels deep"},
      {"/v1/completions", R"({"prompt": )" + std::string(20000, '[') + std::string(20000, ']') + "}", 400, "levels deep"},
      {"/v1/chat/completions", R"({"messages": "hi"})", 400, "must be a list"},
      {"/v1/chat/completions", R"({"messages": []})", 400, "at least one message"},
      {"/v1/chat/completions", R"({"messages": [{"role": "oracle", "content": "x"}]})", 400, "unknown role"},
      {"/v1/chat/completions", R"({"messages": [{"role": "user", "content": "x"}], "max_tokens": 1000000000})", 400, "at most"},
      {"/v1/chat/completions", R"({"messages": [{"role": "user", "content": "x"}], "max_tokens": 4000})", 400, "context"},
      {"/v1/chat/completions", R"({"messages": [{"role": "user", "content": "x"}], "temperature": "warm"})", 400, "number"},
      {"/v1/completions", R"({"prompt": [1, 99999999]})", 400, "outside the vocabulary"},
      {"/v1/completions", R"({"prompt": ""})", 400, "no tokens"},
      {"/v1/chat/completions", deep, 413, "larger than"},
      {"/v1/chat/completions", std::string(60000, ' ') + ok, 413, "larger than"},
      {"/v1/nothing", ok, 404, "no such endpoint"},
  };
  for (const Case& k : corpus) {
    auto res = c.Post(k.path.c_str(), auth, k.body, "application/json");
    ASSERT_TRUE(res) << k.path << " " << k.body.substr(0, 60) << ": no response; " << server.log();
    EXPECT_EQ(res->status, k.status) << k.body.substr(0, 80) << " -> " << res->body;
    Json e = parse_json(res->body);
    EXPECT_NE(e["error"]["message"].get<std::string>().find(k.in_message), std::string::npos) << res->body;
    // Still serving.
    auto good = c.Post("/v1/chat/completions", auth, ok, "application/json");
    ASSERT_TRUE(good && good->status == 200) << "after " << k.body.substr(0, 60) << ": " << server.log();
  }
  auto no_key = c.Post("/v1/chat/completions", ok, "application/json");
  ASSERT_TRUE(no_key);
  EXPECT_EQ(no_key->status, 401);
  EXPECT_NE(no_key->body.find("API key"), std::string::npos);
  auto health = c.Get("/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  // Concurrent requests are decoded together and all answered.
  std::vector<std::future<int>> many;
  for (int i = 0; i < 6; ++i)
    many.push_back(std::async(std::launch::async, [&, i] {
      httplib::Client ci("127.0.0.1", server.port());
      ci.set_read_timeout(60, 0);
      auto r = ci.Post("/v1/completions", auth, R"({"prompt": "x)" + std::to_string(i) + R"(", "max_tokens": 4})", "application/json");
      return r ? r->status : -1;
    }));
  for (auto& f : many) EXPECT_EQ(f.get(), 200);
  EXPECT_EQ(server.stop(), 0) << server.log();
}

TEST(ServeE2E, ANonexistentModelFailsBeforeListening) {
  auto r = test::run_prefer("serve --port 0 --model /nonexistent/model");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("/nonexistent/model"), std::string::npos) << r.output;
}

}  // namespace prefer
