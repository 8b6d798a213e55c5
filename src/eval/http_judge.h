// `--judge http:URL --judge_model NAME`: any OpenAI-compatible chat endpoint as the judge (prefer serve
// included). Each item is one POST {URL}/chat/completions at temperature 0 with the pairwise prompt;
// the reply's [[A]]/[[B]]/[[C]] is the verdict. Calls run concurrently, each time-limited; failures
// (no connection, 429, 5xx) and unparseable replies are retried with exponential backoff; a judge that
// still fails is an error naming the URL and the last HTTP status.
#pragma once

#include <string>

#include "eval/chat_client.h"
#include "eval/judge.h"

namespace prefer::eval {

struct HttpJudgeOptions {
  std::string base_url;          // the OpenAI base URL, /v1 included
  std::string model;             // sent as "model"
  std::string api_key;           // Bearer token; empty: none
  std::string system_prompt = kPairwiseSystemPrompt;  // empty: no system message
  std::string user_template = kPairwiseUserTemplate;
  double temperature = 0.0;
  int64_t max_tokens = 1024;
  int concurrency = 4;
  int retries = 3;               // after the first try
  double timeout_s = 120;        // per call
  double backoff_s = 0.5;        // first wait; doubles after each retry
};

class HttpJudge : public Judge {
 public:
  explicit HttpJudge(HttpJudgeOptions options);
  std::string identity() const override;
  void judge(const std::vector<JudgeItem>& items, const std::function<void(size_t, Verdict)>& on_verdict) override;
  void grade(const std::vector<JudgeItem>& items, const std::function<void(size_t, double)>& on_score) override;
  bool can_grade() const override { return true; }

 private:
  HttpJudgeOptions opt_;
  ChatClient client_;
};

}  // namespace prefer::eval
