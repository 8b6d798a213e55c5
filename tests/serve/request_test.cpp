#include "serve/request.h"

#include <gtest/gtest.h>

namespace prefer::serve {

namespace {

// The status and parameter a body is refused with.
std::pair<int, std::string> refusal(const std::string& body, bool chat) {
  try {
    parse_request(body, chat);
  } catch (const RequestError& e) {
    EXPECT_FALSE(std::string(e.what()).empty());
    return {e.status, e.param};
  }
  return {0, "accepted"};
}

}  // namespace

TEST(Request, ReadsChatAndCompletionsFields) {
  SamplingRequest r = parse_request(R"({"model": "any", "messages": [{"role": "developer", "content": "be brief"},
      {"role": "user", "content": [{"type": "text", "text": "hi "}, {"type": "text", "text": "there"}]}],
      "max_tokens": 5, "temperature": 0, "top_p": 0.5, "n": 2, "stop": "\n", "seed": 7, "stream": true,
      "stream_options": {"include_usage": true}, "frequency_penalty": 0, "logprobs": false})", true);
  EXPECT_EQ(r.model, "any");
  ASSERT_EQ(r.messages.size(), 2u);
  EXPECT_EQ(r.messages[0]["role"], "system");  // developer is the newer name of system
  EXPECT_EQ(r.messages[1]["content"], "hi there");
  EXPECT_EQ(*r.max_tokens, 5);
  EXPECT_EQ(r.temperature, 0.0);
  EXPECT_EQ(r.n, 2);
  EXPECT_EQ(r.stop, std::vector<std::string>{"\n"});
  EXPECT_EQ(*r.seed, 7u);
  EXPECT_TRUE(r.stream && r.include_usage);

  SamplingRequest c = parse_request(R"({"prompt": ["a", "b"], "max_tokens": 3})", false);
  EXPECT_EQ(c.prompts, (std::vector<std::string>{"a", "b"}));
  SamplingRequest ids = parse_request(R"({"prompt": [1, 2, 3]})", false);
  ASSERT_EQ(ids.prompt_ids.size(), 1u);
  EXPECT_EQ(ids.prompt_ids[0], (std::vector<int64_t>{1, 2, 3}));
  EXPECT_FALSE(ids.max_tokens.has_value());
}

TEST(Request, MalformedBodiesAreRefusedWithTheParameter) {
  const std::string deep = std::string(200000, '[') + std::string(200000, ']');
  const std::vector<std::tuple<std::string, bool, int, std::string>> corpus = {
      {"", true, 400, ""},
      {"{\"messages\": [", true, 400, ""},
      {"[1, 2]", true, 400, ""},
      {"{\"messages\": " + deep + "}", true, 400, ""},
      {deep, false, 400, ""},
      {"\"\xC3(\"", true, 400, ""},
      {R"({})", true, 400, "messages"},
      {R"({"messages": []})", true, 400, "messages"},
      {R"({"messages": "hi"})", true, 400, "messages"},
      {R"({"messages": [{"role": "wizard", "content": "hi"}]})", true, 400, "messages[0].role"},
      {R"({"messages": [{"content": "hi"}]})", true, 400, "messages[0].role"},
      {R"({"messages": [{"role": "user"}]})", true, 400, "messages[0].content"},
      {R"({"messages": [{"role": "user", "content": 5}]})", true, 400, "messages[0].content"},
      {R"({"messages": [{"role": "user", "content": [{"type": "image_url"}]}]})", true, 400, "messages[0].content"},
      {R"({"messages": [{"role": "user", "content": "x"}], "max_tokens": "10"})", true, 400, "max_tokens"},
      {R"({"messages": [{"role": "user", "content": "x"}], "max_tokens": 0})", true, 400, "max_tokens"},
      {R"({"messages": [{"role": "user", "content": "x"}], "max_tokens": 1.5})", true, 400, "max_tokens"},
      {R"({"messages": [{"role": "user", "content": "x"}], "max_tokens": 99999999999999999999})", true, 400, "max_tokens"},
      {R"({"messages": [{"role": "user", "content": "x"}], "temperature": 3})", true, 400, "temperature"},
      {R"({"messages": [{"role": "user", "content": "x"}], "temperature": "hot"})", true, 400, "temperature"},
      {R"({"messages": [{"role": "user", "content": "x"}], "top_p": 0})", true, 400, "top_p"},
      {R"({"messages": [{"role": "user", "content": "x"}], "n": 1000})", true, 400, "n"},
      {R"({"messages": [{"role": "user", "content": "x"}], "stop": ["a", "b", "c", "d", "e"]})", true, 400, "stop"},
      {R"({"messages": [{"role": "user", "content": "x"}], "stop": [""]})", true, 400, "stop"},
      {R"({"messages": [{"role": "user", "content": "x"}], "stop": 5})", true, 400, "stop"},
      {R"({"messages": [{"role": "user", "content": "x"}], "stream": "yes"})", true, 400, "stream"},
      {R"({"messages": [{"role": "user", "content": "x"}], "stream_options": {"include_usage": true}})", true, 400, "stream_options"},
      {R"({"messages": [{"role": "user", "content": "x"}], "seed": "s"})", true, 400, "seed"},
      {R"({"messages": [{"role": "user", "content": "x"}], "model": 5})", true, 400, "model"},
      {R"({"messages": [{"role": "user", "content": "x"}], "logprobs": true})", true, 400, "logprobs"},
      {R"({"messages": [{"role": "user", "content": "x"}], "tools": [{"type": "function"}]})", true, 400, "tools"},
      {R"({"messages": [{"role": "user", "content": "x"}], "frequency_penalty": 1})", true, 400, "frequency_penalty"},
      {R"({"prompt": ""})", false, 0, "accepted"},  // empty text is checked after tokenizing (the server)
      {R"({"prompt": []})", false, 400, "prompt"},
      {R"({"prompt": [1, -2]})", false, 400, "prompt"},
      {R"({"prompt": ["a", [1]]})", false, 400, "prompt"},
      {R"({"prompt": {"text": "a"}})", false, 400, "prompt"},
      {R"({"max_tokens": 3})", false, 400, "prompt"},
      {R"({"prompt": "a", "echo": true})", false, 400, "echo"},
      {R"({"prompt": "a", "best_of": 3})", false, 400, "best_of"},
  };
  for (const auto& [body, chat, status, param] : corpus) {
    auto [s, p] = refusal(body, chat);
    EXPECT_EQ(s, status) << body.substr(0, 120);
    EXPECT_EQ(p, param) << body.substr(0, 120);
  }
}

TEST(Request, ErrorsUseOpenAiShape) {
  RequestError e(400, "bad n", "n");
  Json j = parse_json(e.to_json());
  EXPECT_EQ(j["error"]["message"], "bad n");
  EXPECT_EQ(j["error"]["type"], "invalid_request_error");
  EXPECT_EQ(j["error"]["param"], "n");
  EXPECT_TRUE(j["error"]["code"].is_null());
  EXPECT_EQ(parse_json(RequestError(500, "x").to_json())["error"]["type"], "server_error");
}

}  // namespace prefer::serve
