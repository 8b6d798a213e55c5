#include "eval/http_judge.h"

#include <cmath>

#include "util/error.h"

namespace prefer::eval {

namespace {

ChatClientOptions client_options(const HttpJudgeOptions& o) {
  if (o.model.empty()) throw Error("an HTTP judge needs --judge_model (the model name the endpoint serves)", {.field = "judge_model"});
  return {.base_url = o.base_url, .model = o.model, .api_key = o.api_key, .concurrency = o.concurrency, .retries = o.retries,
          .timeout_s = o.timeout_s, .backoff_s = o.backoff_s, .field = "judge"};
}

}  // namespace

HttpJudge::HttpJudge(HttpJudgeOptions options) : opt_(std::move(options)), client_(client_options(opt_)) {}

std::string HttpJudge::identity() const {
  return Json{"http", client_.url(), opt_.model, opt_.system_prompt, opt_.user_template, opt_.temperature, opt_.max_tokens}.dump();
}

void HttpJudge::judge(const std::vector<JudgeItem>& items, const std::function<void(size_t, Verdict)>& on_verdict) {
  const OrderedJson params{{"temperature", opt_.temperature}, {"max_tokens", opt_.max_tokens}};
  client_.for_each_concurrently(items.size(), [&](size_t i) {
    auto reply = client_.ask(system_user_messages(opt_.system_prompt, fill_template(opt_.user_template, items[i])), params,
                             [](const std::string& r) { return parse_bracketed_verdict(r) != Verdict::Error; });
    return [&, i, v = reply ? parse_bracketed_verdict(*reply) : Verdict::Error] { on_verdict(i, v); };
  });
}

void HttpJudge::grade(const std::vector<JudgeItem>& items, const std::function<void(size_t, double)>& on_score) {
  const OrderedJson params{{"temperature", opt_.temperature}, {"max_tokens", opt_.max_tokens}};
  client_.for_each_concurrently(items.size(), [&](size_t i) {
    auto reply = client_.ask(system_user_messages(kSingleSystemPrompt, fill_template(kSingleUserTemplate, items[i])), params,
                             [](const std::string& r) { return !std::isnan(parse_bracketed_score(r)); });
    return [&, i, v = reply ? parse_bracketed_score(*reply) : std::nan("")] { on_score(i, v); };
  });
}

}  // namespace prefer::eval
